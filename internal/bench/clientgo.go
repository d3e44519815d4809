package bench

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kilnbuild/kiln/internal/client"
)

var componentsGVR = schema.GroupVersionResource{Group: "kiln.dev", Version: "v1alpha1", Resource: "components"}

// ClientGoReport is what a plain client-go client measured: a cluster-wide
// list with a label selector matching 1% of the Components, in one response
// (no limit, no continue).
type ClientGoReport struct {
	// Dynamic is the dynamic client's List, decoding included.
	Dynamic Latency `json:"dynamicList"`
	// Raw is the REST client's DoRaw: the same request, body read, not decoded.
	Raw Latency `json:"restRaw"`
	// Items is how many items one list returned (checked on every sample).
	Items int `json:"items"`
}

// restConfig is a client-go config for the server, from the client.yaml
// `kiln up` wrote.
func (p *serverProc) restConfig() (*rest.Config, error) {
	cfg, err := client.LoadConfig(p.dataDir + "/client.yaml")
	if err != nil {
		return nil, fmt.Errorf("load client config: %w", err)
	}
	pem, err := cfg.CAPEM()
	if err != nil {
		return nil, fmt.Errorf("read server CA: %w", err)
	}
	return &rest.Config{Host: p.url, BearerToken: cfg.Token, QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{CAData: pem}}, nil
}

// clientGoLists times the 1% label-selector list through client-go.
func (b *run) clientGoLists(ctx context.Context) error {
	cfg, err := b.srv.restConfig()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	rc, err := rest.UnversionedRESTClientFor(withJSON(cfg))
	if err != nil {
		return fmt.Errorf("rest client: %w", err)
	}
	rep := &ClientGoReport{}
	want := b.o.Objects / 100
	if rep.Dynamic, err = b.sample(func(i int) error { return dynList(ctx, dyn, i, want) }); err != nil {
		return err
	}
	if rep.Raw, err = b.sample(func(i int) error { return rawList(ctx, rc, i) }); err != nil {
		return err
	}
	rep.Items = want
	b.rep.ClientGo = rep
	return nil
}

func withJSON(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType, c.AcceptContentTypes = "application/json", "application/json"
	c.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	return c
}

func shardSelector(i int) string { return "shard=s" + strconv.Itoa(i%100) }

func dynList(ctx context.Context, dyn dynamic.Interface, i, want int) error {
	l, err := dyn.Resource(componentsGVR).List(ctx, metav1.ListOptions{LabelSelector: shardSelector(i)})
	if err != nil {
		return fmt.Errorf("client-go list: %w", err)
	}
	if len(l.Items) != want || l.GetContinue() != "" {
		return fmt.Errorf("client-go list %s: %d items (continue %q), want %d in one response", shardSelector(i), len(l.Items), l.GetContinue(), want)
	}
	return nil
}

func rawList(ctx context.Context, rc *rest.RESTClient, i int) error {
	_, err := rc.Get().AbsPath("/apis/kiln.dev/v1alpha1/components").
		Param("labelSelector", shardSelector(i)).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("client-go raw list %s: %w", url.QueryEscape(shardSelector(i)), err)
	}
	return nil
}

// sample runs fn min(Samples, 300) times after 10 warm-up calls.
func (b *run) sample(fn func(i int) error) (Latency, error) {
	for i := 0; i < 10; i++ {
		if err := fn(i); err != nil {
			return Latency{}, err
		}
	}
	n := min(b.o.Samples, 300)
	d := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := fn(i); err != nil {
			return Latency{}, err
		}
		d = append(d, time.Since(start))
	}
	return summarise(d), nil
}
