package registry

import (
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// DecodeError turns an error from v1alpha1.Decode into an API status error:
// 422 Invalid with one cause per field path.
func DecodeError(err error) error {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se
	}
	var de *v1alpha1.DecodeError
	if errors.As(err, &de) {
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
			Message: de.Error(),
			Details: &metav1.StatusDetails{Name: de.Name, Kind: de.Kind, Causes: v1alpha1.Causes(de.Errs)},
		}}
	}
	return apierrors.NewBadRequest(err.Error())
}
