package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/apiserver"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/registry"
)

// AdminUser is the cluster admin created on first start.
const AdminUser = "admin"

// ClientConfigName is the client config written into the data directory.
const ClientConfigName = "client.yaml"

// bootstrap creates, on first start, the admin user, the default namespace
// and an admin token, and writes the client config. Later starts reuse them.
func (f *Factory) bootstrap(ctx context.Context) error {
	path := filepath.Join(f.cfg.DataDir, ClientConfigName)
	if cfg, err := client.LoadConfig(path); err == nil && cfg.Token != "" {
		f.AdminToken = cfg.Token
		cfg.Server = f.URL
		cfg.CertificateAuthorityData = f.CAPEM
		return client.WriteConfig(path, cfg)
	}
	if err := f.ensure(ctx, "User", "", AdminUser, map[string]any{"displayName": "Kiln administrator", "clusterAdmin": true}); err != nil {
		return err
	}
	if err := f.ensure(ctx, "Namespace", "", "default", map[string]any{"type": "tenant"}); err != nil {
		return err
	}
	tok, err := apiserver.IssueToken(ctx, f.Registry, apiserver.TokenRequest{Subject: AdminUser, Description: "bootstrap admin token written by kiln up"})
	if err != nil {
		return fmt.Errorf("issuing admin token: %w", err)
	}
	f.AdminToken = tok.Token
	cfg := &client.Config{Server: f.URL, Token: tok.Token, Namespace: "default", CertificateAuthorityData: f.CAPEM}
	if err := client.WriteConfig(path, cfg); err != nil {
		return fmt.Errorf("writing client config: %w", err)
	}
	f.cfg.Log.Info("first start: created admin user and token", "clientConfig", path)
	if f.cfg.UserConfig != "" {
		if err := client.WriteConfig(f.cfg.UserConfig, cfg); err != nil {
			f.cfg.Log.Warn("could not write user client config", "path", f.cfg.UserConfig, "err", err)
		} else {
			f.cfg.Log.Info("wrote client config", "path", f.cfg.UserConfig)
		}
	}
	return nil
}

// ensure creates an object unless it exists.
func (f *Factory) ensure(ctx context.Context, kind, ns, name string, spec map[string]any) error {
	k, ok := v1alpha1.Lookup(kind)
	if !ok {
		return fmt.Errorf("kind %s not registered", kind)
	}
	obj := k.New()
	raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec})
	if err := json.Unmarshal(raw, obj); err != nil {
		return err
	}
	_, err := f.Registry.Create(ctx, k, obj, registry.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bootstrapping %s %s: %w", kind, name, err)
	}
	return nil
}
