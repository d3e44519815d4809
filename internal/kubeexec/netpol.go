package kubeexec

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ensurePolicies creates or updates the namespace's NetworkPolicies, for
// clusters that enforce them: task Pods (label kiln.dev/network=none) get
// no traffic in or out; prefetch Pods get no traffic in. (Task Pods also
// take their interfaces down, for clusters that do not enforce them.)
func (r *Runner) ensurePolicies(ctx context.Context) error {
	for _, np := range []*networkingv1.NetworkPolicy{
		policy("kiln-steps-no-network", networkNone, networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress),
		policy("kiln-prefetch-no-ingress", networkOut, networkingv1.PolicyTypeIngress),
	} {
		api := r.client.NetworkingV1().NetworkPolicies(r.opts.Namespace)
		_, err := api.Create(ctx, np, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cur, gerr := api.Get(ctx, np.Name, metav1.GetOptions{})
			if gerr != nil {
				return fmt.Errorf("kubernetes executor: network policy %s: %w", np.Name, gerr)
			}
			np.ResourceVersion = cur.ResourceVersion
			_, err = api.Update(ctx, np, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("kubernetes executor: network policy %s: %w", np.Name, err)
		}
	}
	return nil
}

// policy selects the Pods with network label value and allows nothing of
// the given directions.
func policy(name, value string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelNetwork: value}},
			PolicyTypes: types,
		},
	}
}
