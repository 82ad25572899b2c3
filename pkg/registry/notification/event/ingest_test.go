package event

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// The dedup key is the SHA-256 of the parts Flux's rate limiter keys on,
// joined by slashes, in this order.
func TestDedupKeyIsTheHashOfFluxsParts(t *testing.T) {
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	obj := notification.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "webapp", Namespace: "apps"}
	for _, c := range []struct {
		name     string
		obj      notification.ObjectReference
		metadata map[string]string
		want     string
	}{
		{"no metadata", obj, nil, "event/name=webapp/namespace=apps/kind=Kustomization/message=m"},
		{"the three keys, in Flux's order", obj, map[string]string{
			"kustomize.toolkit.fluxcd.io/token": "t", "kustomize.toolkit.fluxcd.io/revision": "r",
			"kustomize.toolkit.fluxcd.io/originRevision": "o", "kustomize.toolkit.fluxcd.io/other": "x",
		}, "event/name=webapp/namespace=apps/kind=Kustomization/message=m/originRevision=o/revision=r/token=t"},
		{"another group's keys are not the object's", obj, map[string]string{
			"source.toolkit.fluxcd.io/revision": "r", "event.toolkit.fluxcd.io/revision": "e",
		}, "event/name=webapp/namespace=apps/kind=Kustomization/message=m"},
		{"core group: keys under a bare slash", notification.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Name: "c", Namespace: "apps"},
			map[string]string{"/revision": "r", "revision": "not this"}, "event/name=c/namespace=apps/kind=ConfigMap/message=m/revision=r"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &notification.Event{InvolvedObject: c.obj, Message: "m", EventMetadata: c.metadata}
			if got, want := DedupKey(e), hash(c.want); got != want {
				t.Errorf("DedupKey = %s, want the hash of %q (%s)", got, c.want, want)
			}
		})
	}
}

// CleanMetadata keeps event.toolkit.fluxcd.io/ keys and the object's
// group's but for checksum and digest (in any case), drops the rest, and
// leaves no empty map.
func TestCleanMetadataKeepsFluxsKeys(t *testing.T) {
	obj := notification.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "webapp", Namespace: "apps"}
	for _, c := range []struct {
		name     string
		obj      notification.ObjectReference
		in, want map[string]string
	}{
		{"nil", obj, nil, nil},
		{"all kept", obj, map[string]string{"kustomize.toolkit.fluxcd.io/revision": "r", "event.toolkit.fluxcd.io/cluster": "c"},
			map[string]string{"kustomize.toolkit.fluxcd.io/revision": "r", "event.toolkit.fluxcd.io/cluster": "c"}},
		{"some dropped", obj, map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": "r", "kustomize.toolkit.fluxcd.io/Checksum": "x", "kustomize.toolkit.fluxcd.io/DIGEST": "x",
			"kustomize.toolkit.fluxcd.iox/revision": "x", "kustomize.toolkit.fluxcd.io": "x", "other.example.com/key": "x",
		}, map[string]string{"kustomize.toolkit.fluxcd.io/revision": "r"}},
		{"all dropped", obj, map[string]string{"kustomize.toolkit.fluxcd.io/checksum": "x", "other.example.com/key": "x"}, nil},
		{"core group keeps only event.toolkit.fluxcd.io/", notification.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Name: "c"},
			map[string]string{"/revision": "x", "revision": "x", "event.toolkit.fluxcd.io/a": "a"}, map[string]string{"event.toolkit.fluxcd.io/a": "a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &notification.Event{InvolvedObject: c.obj, EventMetadata: maps.Clone(c.in)}
			CleanMetadata(e)
			if !maps.Equal(e.EventMetadata, c.want) || (c.want == nil) != (e.EventMetadata == nil) {
				t.Errorf("kept %v, want %v", e.EventMetadata, c.want)
			}
		})
	}
}

func BenchmarkDedupKey(b *testing.B) {
	e := newEvent("Reconciliation finished in 1.2s, next run in 10m0s")
	e.EventMetadata["kustomize.toolkit.fluxcd.io/revision"] = "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"
	b.ReportAllocs()
	for b.Loop() {
		CleanMetadata(e)
		_ = DedupKey(e)
	}
}
