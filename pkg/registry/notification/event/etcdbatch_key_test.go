package event

import (
	"context"
	"testing"

	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
)

// The Writer builds the keys of Events itself only where they are what
// the registry's key function gives; where that function refuses, so
// does the Writer, with its error.
func TestTheWritersKeysAreTheRegistrys(t *testing.T) {
	w := &Writer{
		pathPrefix: "/registry/notification.toolkit.fluxcd.io/",
		keyFunc: func(ctx context.Context, name string) (string, error) {
			return genericregistry.NamespaceKeyFunc(ctx, "/events", name)
		},
	}
	w.keyPrefix = keyPrefixOf(w.keyByFunc)
	if want := "/registry/notification.toolkit.fluxcd.io/events/"; w.keyPrefix != want {
		t.Fatalf("key prefix %q, want %q", w.keyPrefix, want)
	}
	for _, c := range [][2]string{
		{"apps", "e"}, {"flux-system", "0123456789abcdef0123456789abcdef-1x2y"}, {"a", "a.b"},
		{"", "e"}, {"apps", ""}, {"apps", "."}, {"apps", ".."}, {"apps", "a/b"}, {"apps", "a%2F"}, {"a/b", "e"},
	} {
		got, err := w.key(c[0], c[1])
		want, wantErr := w.keyByFunc(c[0], c[1])
		if got != want || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("key(%q, %q) = %q, %v; the registry's: %q, %v", c[0], c[1], got, err, want, wantErr)
		}
	}
	// A key function of another shape is always asked.
	odd := &Writer{keyFunc: func(context.Context, string) (string, error) { return "/fixed", nil }}
	if p := keyPrefixOf(odd.keyByFunc); p != "" {
		t.Errorf("a key function that ignores the name gave the prefix %q", p)
	}
}
