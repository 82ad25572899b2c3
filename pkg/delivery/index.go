package delivery

import (
	"slices"
	"strings"

	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// alertsBySource indexes Alerts by the namespace and kind of each of their
// event sources: a source matches only the events of objects of that exact
// kind in that namespace, so an event needs only the Alerts under its own
// key, however many Alerts the cluster holds.
const alertsBySource = "eventSource"

// sourceKey is the index value of objects of kind in namespace. Both are
// validated names without a slash; were they not, a clash would only add
// candidates, which the Matcher still refuses.
func sourceKey(namespace, kind string) string {
	return namespace + "/" + kind
}

// alertSourceKeys lists, once each, the keys of an Alert's event sources;
// a source without a namespace is in the Alert's.
func alertSourceKeys(obj any) ([]string, error) {
	a, ok := obj.(*v1beta2.Alert)
	if !ok {
		return nil, nil
	}
	keys := make([]string, 0, len(a.Spec.EventSources))
	for _, src := range a.Spec.EventSources {
		namespace := src.Namespace
		if namespace == "" {
			namespace = a.Namespace
		}
		if key := sourceKey(namespace, src.Kind); !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// addAlertIndex adds the index to the Alert informer, once: a second
// dispatcher on the same factory shares it.
func addAlertIndex(informer cache.SharedIndexInformer) error {
	if _, ok := informer.GetIndexer().GetIndexers()[alertsBySource]; ok {
		return nil
	}
	return informer.AddIndexers(cache.Indexers{alertsBySource: alertSourceKeys})
}

// candidates are the Alerts with a source of the event's involved object's
// namespace and kind, sorted by namespace and name so that the deliveries
// of an event are always in the same order. Only the Matcher decides
// whether one of them takes the event.
func candidates(index cache.Indexer, io v1beta2.ObjectReference) ([]*v1beta2.Alert, error) {
	objs, err := index.ByIndex(alertsBySource, sourceKey(io.Namespace, io.Kind))
	if err != nil {
		return nil, err
	}
	alerts := make([]*v1beta2.Alert, 0, len(objs))
	for _, obj := range objs {
		if a, ok := obj.(*v1beta2.Alert); ok {
			alerts = append(alerts, a)
		}
	}
	slices.SortFunc(alerts, compareAlerts)
	return alerts, nil
}

func compareAlerts(a, b *v1beta2.Alert) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
