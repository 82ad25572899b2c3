// Package delivery routes stored Events through the Alerts they match to
// their Providers, and records every delivery in the Event's status.
package delivery

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// LabelsFunc returns the labels of the involved object of an event, for
// Alerts with matchLabels.
type LabelsFunc func(ctx context.Context, io v1beta2.ObjectReference) (map[string]string, error)

// Matcher decides, by Flux's rules, whether an Alert takes an event.
type Matcher struct {
	// Labels reads the involved object's labels; without it, sources with
	// matchLabels match nothing.
	Labels LabelsFunc
	// NoCrossNamespaceRefs refuses events of objects in other namespaces
	// than the Alert's (Flux's --no-cross-namespace-refs), and says so.
	NoCrossNamespaceRefs bool

	// regexps keeps the compiled inclusion and exclusion expressions of
	// the dispatcher's Matcher; without it, each match compiles anew.
	regexps *regexps
}

// Match tells whether the Alert takes the event. Its error explains a
// source that could not be checked (a bad selector, labels unreadable).
func (m Matcher) Match(ctx context.Context, e *v1beta2.Event, a *v1beta2.Alert) (bool, error) {
	if a.Spec.Suspend {
		return false, nil
	}
	if m.NoCrossNamespaceRefs && e.InvolvedObject.Namespace != a.Namespace {
		return false, crossNamespaceBlocked(e, a)
	}
	matched := false
	var sourceErr error
	for _, src := range a.Spec.EventSources {
		ok, err := m.matchSource(ctx, e, a, src)
		if err != nil {
			sourceErr = err
			continue
		}
		if ok {
			matched = true
			break
		}
	}
	if !matched {
		return false, sourceErr
	}
	if len(a.Spec.InclusionList) > 0 {
		included := false
		for _, expr := range a.Spec.InclusionList {
			re, err := m.compile(expr)
			if err != nil {
				return false, fmt.Errorf("inclusion regex %q does not compile: %v", expr, err)
			}
			if re.MatchString(e.Message) {
				included = true
				break
			}
		}
		if !included {
			return false, nil
		}
	}
	for _, expr := range a.Spec.ExclusionList {
		re, err := m.compile(expr)
		if err != nil {
			return false, fmt.Errorf("exclusion regex %q does not compile: %v", expr, err)
		}
		if re.MatchString(e.Message) {
			return false, nil
		}
	}
	return true, nil
}

// crossNamespaceBlocked explains, as Flux does, why an Alert whose source
// would take an event of another namespace does not; it is nil when no
// source would (labels aside: they are not read across namespaces).
func crossNamespaceBlocked(e *v1beta2.Event, a *v1beta2.Alert) error {
	for _, src := range a.Spec.EventSources {
		if selects(e, a, src) {
			io := e.InvolvedObject
			return fmt.Errorf("access denied to cross-namespace sources: cannot take events of %s/%s/%s, cross-namespace references have been blocked (--no-cross-namespace-refs)",
				io.Kind, io.Namespace, io.Name)
		}
	}
	return nil
}

// selects tells whether a source names the event's object and takes its
// severity; matchLabels aside.
func selects(e *v1beta2.Event, a *v1beta2.Alert, src v1beta2.CrossNamespaceObjectReference) bool {
	io := e.InvolvedObject
	namespace := src.Namespace
	if namespace == "" {
		namespace = a.Namespace
	}
	if io.Namespace != namespace || io.Kind != src.Kind {
		return false
	}
	// info takes every event; error only errors.
	if e.Severity != a.Spec.EventSeverity && a.Spec.EventSeverity != "info" {
		return false
	}
	return src.Name == "*" || src.Name == io.Name
}

func (m Matcher) matchSource(ctx context.Context, e *v1beta2.Event, a *v1beta2.Alert, src v1beta2.CrossNamespaceObjectReference) (bool, error) {
	io := e.InvolvedObject
	if !selects(e, a, src) {
		return false, nil
	}
	if src.MatchLabels == nil {
		return true, nil
	}
	if m.Labels == nil {
		return false, fmt.Errorf("cannot read the labels of %s/%s/%s", io.Kind, io.Namespace, io.Name)
	}
	objLabels, err := m.Labels(ctx, io)
	if err != nil {
		return false, fmt.Errorf("reading the labels of %s/%s/%s: %w", io.Kind, io.Namespace, io.Name, err)
	}
	return labels.SelectorFromSet(src.MatchLabels).Matches(labels.Set(objLabels)), nil
}

func (m Matcher) compile(expr string) (*regexp.Regexp, error) {
	if m.regexps == nil {
		return regexp.Compile(expr)
	}
	return m.regexps.compile(expr)
}

// maxRegexps bounds the expressions kept; past it, the cache starts over.
const maxRegexps = 4096

// regexps are compiled expressions by their source: compiling costs far
// more than matching, and an Alert's expressions serve every event it
// sees. Expressions that do not compile are not kept (validation refuses
// them anyway).
type regexps struct {
	mu       sync.Mutex
	compiled map[string]*regexp.Regexp
}

func newRegexps() *regexps {
	return &regexps{compiled: map[string]*regexp.Regexp{}}
}

func (r *regexps) compile(expr string) (*regexp.Regexp, error) {
	r.mu.Lock()
	re, ok := r.compiled[expr]
	r.mu.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.compiled) >= maxRegexps {
		clear(r.compiled)
	}
	r.compiled[expr] = re
	return re, nil
}
