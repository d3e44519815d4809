package trace

import (
	"fmt"

	"github.com/kilnbuild/kiln/internal/lineage"
	"github.com/kilnbuild/kiln/internal/store"
)

// IndexOf returns the trace index kept in the store's database.
func IndexOf(st store.Store) (lineage.Index, error) {
	s, ok := st.(interface{ Lineage() lineage.Index })
	if !ok {
		return nil, fmt.Errorf("the %T store keeps no trace index", st)
	}
	return s.Lineage(), nil
}
