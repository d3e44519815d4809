//go:build tools

// Package deps pins dependencies the packages being written will use; removed once they import them.
package deps
import (
 _ "k8s.io/apimachinery/pkg/apis/meta/v1"
 _ "k8s.io/apimachinery/pkg/labels"
 _ "k8s.io/apimachinery/pkg/fields"
 _ "sigs.k8s.io/json"
 _ "sigs.k8s.io/yaml"
 _ "github.com/evanphx/json-patch/v5"
 _ "github.com/pressly/goose/v3"
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/stdlib"
 _ "github.com/spf13/cobra"
)
