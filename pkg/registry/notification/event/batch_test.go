package event

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
)

// newBatchStorage is the events storage with eventbatches beside it, on
// the same etcd, as the server wires them.
func newBatchStorage(t *testing.T, clock *clocktesting.FakeClock) (*REST, *BatchREST) {
	t.Helper()
	r, client, opts := newStorageOnEtcd(t, clock)
	w, err := NewWriter(client, nil, opts, r.Store.KeyFunc)
	if err != nil {
		t.Fatal(err)
	}
	r.UseWriter(w)
	return r, NewBatchREST(r, w, nil)
}

// Single creates of Events without a name go through the Writer (its
// transactions count them), concurrent ones together; dry runs and named
// Events through the registry.
func TestSingleCreatesGoThroughTheWriterButDryRunsAndNamedOnes(t *testing.T) {
	r, _ := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	written := func() float64 {
		t.Helper()
		sum, err := testutil.GetHistogramMetricValue(batchItems.WithLabelValues("create"))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	before := written()
	var wg sync.WaitGroup
	names := make([]string, 8)
	for i := range names {
		wg.Go(func() {
			obj, err := r.Create(ctx, newEvent(fmt.Sprintf("message %d", i)), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			e := obj.(*notification.Event)
			if e.ResourceVersion == "" || e.UID == "" || e.CreationTimestamp.IsZero() {
				t.Errorf("create %d answered %+v, without its resourceVersion, uid or creationTimestamp", i, e.ObjectMeta)
			}
			names[i] = e.Name
		})
	}
	wg.Wait()
	if got := written() - before; got != float64(len(names)) {
		t.Errorf("the Writer's transactions wrote %v Events, want the %d created", got, len(names))
	}
	for _, name := range names {
		if _, err := r.Get(ctx, name, &metav1.GetOptions{}); err != nil {
			t.Errorf("get %s: %v", name, err)
		}
	}

	before = written()
	dry, err := r.Create(ctx, newEvent("dry"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := r.Get(ctx, dry.(*notification.Event).Name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a dry run stored its Event: %v", err)
	}
	named := newEvent("named")
	named.Name = "named"
	if _, err := r.Create(ctx, named, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("named: %v", err)
	}
	if got := written() - before; got != 0 {
		t.Errorf("the Writer wrote %v Events for a dry run and a named Event, want none", got)
	}
}

func createBatch(t *testing.T, b *BatchREST, events ...*notification.Event) ([]notification.EventBatchResult, error) {
	t.Helper()
	batch := &notification.EventBatch{}
	for _, e := range events {
		batch.Items = append(batch.Items, *e)
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	obj, err := b.Create(ctx, batch, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*notification.EventBatch).Results, nil
}

// The same windows as a create alone (see
// TestTheSameEventIsRefusedWithinTheWindowAndAcceptedAfter), in batches,
// mixed with single creates.
func TestABatchDeduplicatesAcrossWindowsAsACreateAlone(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Now())
	r, b := newBatchStorage(t, clock)

	first, err := createBatch(t, b, newEvent("validation error"))
	if err != nil || first[0].Code != http.StatusCreated {
		t.Fatalf("first: %+v %v", first, err)
	}
	clock.Step(30 * time.Second)
	if _, err := create(t, r, newEvent("validation error")); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a single create of a batch's event in its window: %v, want AlreadyExists", err)
	}
	clock.Step(2 * time.Minute) // 2m30s after the first
	got, err := createBatch(t, b, newEvent("validation error"), newEvent("another error"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Code != http.StatusConflict || got[0].Reason != string(metav1.StatusReasonAlreadyExists) {
		t.Errorf("a repeat within 5m (perhaps across a window boundary): %+v, want 409 AlreadyExists", got[0])
	}
	if got[1].Code != http.StatusCreated {
		t.Errorf("a different message: %+v, want 201", got[1])
	}
	clock.Step(3 * time.Minute) // 5m30s after the first
	again, err := createBatch(t, b, newEvent("validation error"))
	if err != nil || again[0].Code != http.StatusCreated || again[0].Name == first[0].Name {
		t.Fatalf("the same event after the window: %+v %v, want created under a new name", again, err)
	}
	stored, err := r.Get(genericapirequest.WithNamespace(context.Background(), "apps"), again[0].Name, &metav1.GetOptions{})
	if err != nil || stored.(*notification.Event).EventMetadata["kustomize.toolkit.fluxcd.io/checksum"] != "" {
		t.Errorf("stored %+v (%v): metadata not cleaned as a create alone cleans it", stored, err)
	}
}

func TestABatchTakesOnlyWhatTheBacklogHasRoomFor(t *testing.T) {
	r, b := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	pending := 2
	r.opts.MaxPending, r.opts.Pending = 2, func() int { return pending }
	_, err := createBatch(t, b, newEvent("one"), newEvent("two"))
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("at the limit: %v, want 429", err)
	}
	if delay, ok := apierrors.SuggestsClientDelay(err); !ok || delay <= 0 {
		t.Errorf("the 429 suggests no retry delay: %v", err)
	}
	list, err := r.List(genericapirequest.WithNamespace(context.Background(), "apps"), nil)
	if err != nil || len(list.(*notification.EventList).Items) != 0 {
		t.Errorf("a refused batch stored %v (%v)", list, err)
	}
	// Room for one more: the first item is taken, the second refused as
	// its create alone would be.
	pending = 1
	got, err := createBatch(t, b, newEvent("one"), newEvent("two"))
	if err != nil || got[0].Code != http.StatusCreated || got[1].Code != http.StatusTooManyRequests ||
		got[1].Reason != string(metav1.StatusReasonTooManyRequests) {
		t.Errorf("one below the limit: %+v %v, want 201 then 429", got, err)
	}
	pending = 0
	if got, err := createBatch(t, b, newEvent("two"), newEvent("three")); err != nil || got[0].Code != 201 || got[1].Code != 201 {
		t.Errorf("with room: %+v %v", got, err)
	}
}

// itemAdmission stands in for the server's admission chain: it mutates
// and refuses Events by their message, and records what it was asked.
type itemAdmission struct {
	mu       sync.Mutex
	admitted []admission.Attributes
	checked  []admission.Attributes
}

func (*itemAdmission) Handles(op admission.Operation) bool { return op == admission.Create }

func (a *itemAdmission) Admit(_ context.Context, attrs admission.Attributes, _ admission.ObjectInterfaces) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.admitted = append(a.admitted, attrs)
	e := attrs.GetObject().(*notification.Event)
	switch e.Message {
	case "mutate me":
		e.Message = "mutated"
	case "refuse at mutation":
		return admission.NewForbidden(attrs, errors.New("refused by a mutating plugin"))
	}
	return nil
}

func (a *itemAdmission) Validate(_ context.Context, attrs admission.Attributes, _ admission.ObjectInterfaces) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checked = append(a.checked, attrs)
	if attrs.GetObject().(*notification.Event).Message == "refuse at validation" {
		return admission.NewForbidden(attrs, errors.New("refused by a validating plugin"))
	}
	return nil
}

// newAdmittedBatchStorage is a batch storage whose items go through an
// itemAdmission, returned to see what it was asked.
func newAdmittedBatchStorage(t *testing.T) (*REST, *BatchREST, *itemAdmission) {
	t.Helper()
	r, b := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	scheme := runtime.NewScheme()
	install.Install(scheme)
	admit := &itemAdmission{}
	b.UseAdmission(admit, admission.NewObjectInterfacesFromScheme(scheme))
	return r, b, admit
}

// Each item of a batch goes through admission as a create of it alone
// would: mutating admission before it is named, validating admission
// after, both with an Event create's attributes. A refused item gets the
// refusal as its result; the others are stored.
func TestABatchAdmitsEachItemAsACreateAlone(t *testing.T) {
	r, b, admit := newAdmittedBatchStorage(t)

	got, err := createBatch(t, b, newEvent("mutate me"), newEvent("refuse at mutation"), newEvent("refuse at validation"), newEvent("plain"))
	if err != nil {
		t.Fatal(err)
	}
	wantCodes := []int32{http.StatusCreated, http.StatusForbidden, http.StatusForbidden, http.StatusCreated}
	for i, res := range got {
		if res.Code != wantCodes[i] {
			t.Errorf("item %d: %+v, want code %d", i, res, wantCodes[i])
		}
	}
	for i, plugin := range map[int]string{1: "mutating", 2: "validating"} {
		if !strings.Contains(got[i].Message, "refused by a "+plugin+" plugin") {
			t.Errorf("item %d's result does not say the %s plugin refused it: %q", i, plugin, got[i].Message)
		}
	}
	// The stored Event is the mutated one, named after what it became.
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	stored, err := r.Get(ctx, got[0].Name, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := stored.(*notification.Event).Message; m != "mutated" {
		t.Errorf("stored message %q, want the mutated one", m)
	}
	if _, err := create(t, r, newEvent("mutated")); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a create alone of the mutated content: %v, want AlreadyExists (the same name)", err)
	}

	if len(admit.admitted) != 4 || len(admit.checked) != 3 {
		t.Fatalf("mutating admission saw %d items, validating %d; want 4 and 3 (one refused before)", len(admit.admitted), len(admit.checked))
	}
	for _, attrs := range append(append([]admission.Attributes{}, admit.admitted...), admit.checked...) {
		if attrs.GetKind() != eventKind || attrs.GetResource() != eventResource || attrs.GetOperation() != admission.Create ||
			attrs.GetNamespace() != "apps" || attrs.GetSubresource() != "" || attrs.IsDryRun() {
			t.Errorf("admission attributes %s %s %s in %q, want an Event create in apps", attrs.GetOperation(), attrs.GetKind(), attrs.GetResource(), attrs.GetNamespace())
		}
	}
	if name := admit.admitted[0].GetName(); name != "" {
		t.Errorf("mutating admission saw the name %q: the name comes after it", name)
	}
	if name := admit.checked[0].GetName(); name != got[0].Name {
		t.Errorf("validating admission saw the name %q, want %q", name, got[0].Name)
	}
}

// An item with generateName and no name is named from it, as a create
// alone would be.
func TestABatchItemGetsAGeneratedName(t *testing.T) {
	_, b := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	e := newEvent("generated")
	e.GenerateName = "flux-"
	got, err := createBatch(t, b, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Code != http.StatusCreated || !strings.HasPrefix(got[0].Name, "flux-") || len(got[0].Name) <= len("flux-") {
		t.Errorf("results %+v, want one created, named flux- and a suffix", got)
	}
}

// listedNames gives the names listed, then the last again.
type listedNames struct{ list []string }

func (n *listedNames) GenerateName(string) string {
	name := n.list[0]
	if len(n.list) > 1 {
		n.list = n.list[1:]
	}
	return name
}

// An item whose generated name is taken gets another, as a create alone
// would; when every try clashes, the clash is its answer.
func TestABatchItemWhoseGeneratedNameIsTakenGetsAnother(t *testing.T) {
	_, b := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	taken := newEvent("first")
	taken.Name = "flux-taken"
	if got, err := createBatch(t, b, taken); err != nil || got[0].Code != http.StatusCreated {
		t.Fatalf("%+v, %v", got, err)
	}

	b.strategy.NameGenerator = &listedNames{list: []string{"flux-taken", "flux-taken", "flux-free"}}
	e := newEvent("generated")
	e.GenerateName = "flux-"
	got, err := createBatch(t, b, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Code != http.StatusCreated || got[0].Name != "flux-free" {
		t.Errorf("results %+v, want created as flux-free at the third try", got)
	}

	b.strategy.NameGenerator = &listedNames{list: []string{"flux-taken"}}
	e = newEvent("generated again")
	e.GenerateName = "flux-"
	got, err = createBatch(t, b, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Code != http.StatusConflict || got[0].Name != "flux-taken" {
		t.Errorf("results %+v, want 409 for flux-taken after every try", got)
	}
}

// A dry run of a batch tells admission it is one, for each item, and
// stores nothing.
func TestADryRunOfABatchIsOneForAdmissionToo(t *testing.T) {
	r, b, admit := newAdmittedBatchStorage(t)

	batch := &notification.EventBatch{Items: []notification.Event{*newEvent("tried"), *newEvent("refuse at validation")}}
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	obj, err := b.Create(ctx, batch, rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*notification.EventBatch).Results
	if len(got) != 2 || got[0].Code != http.StatusCreated || got[1].Code != http.StatusForbidden {
		t.Fatalf("results %+v, want created and refused", got)
	}
	if len(admit.admitted) != 2 || len(admit.checked) != 2 {
		t.Fatalf("mutating admission saw %d items, validating %d; want 2 and 2", len(admit.admitted), len(admit.checked))
	}
	for _, attrs := range append(append([]admission.Attributes{}, admit.admitted...), admit.checked...) {
		options, ok := attrs.GetOperationOptions().(*metav1.CreateOptions)
		if !attrs.IsDryRun() || !ok || !dryrun.IsDryRun(options.DryRun) {
			t.Errorf("admission was not told of the dry run: %v, %+v", attrs.IsDryRun(), attrs.GetOperationOptions())
		}
	}
	if _, err := r.Get(ctx, got[0].Name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored %s: %v", got[0].Name, err)
	}
}

// noAlertFor makes the storage take the Events of kind as no Alert's: as
// the server's delivery loop tells it, they are stored routed.
func noAlertFor(r *REST, b *BatchREST, kind string) {
	unmatched := func(io notification.ObjectReference) bool { return io.Kind == kind }
	r.opts.NoAlertCanMatch = unmatched
	s := r.Store.CreateStrategy.(strategy)
	s.unmatched = unmatched
	r.Store.CreateStrategy = s
	if b != nil {
		b.strategy = s
	}
}

// An Event no Alert can take is stored routed, and needs no room under
// --max-pending-events: alone or in a batch it is taken at the limit,
// where the others are refused.
func TestAnEventNoAlertCanTakeNeedsNoRoomInTheBacklog(t *testing.T) {
	r, b := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	noAlertFor(r, b, "GitRepository")
	r.opts.MaxPending, r.opts.Pending = 2, func() int { return 2 }
	unmatched := func(message string) *notification.Event {
		e := newEvent(message)
		e.InvolvedObject.APIVersion, e.InvolvedObject.Kind = "source.toolkit.fluxcd.io/v1", "GitRepository"
		return e
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	if _, err := r.Create(ctx, newEvent("matched, alone"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); !apierrors.IsTooManyRequests(err) {
		t.Errorf("an Event an Alert may take, at the limit: %v, want 429", err)
	}
	obj, err := r.Create(ctx, unmatched("unmatched, alone"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("an Event no Alert can take, at the limit: %v", err)
	}
	if e := obj.(*notification.Event); e.Status.RoutedAt == nil || e.Status.Message != notification.EventNoAlertMatched {
		t.Errorf("stored with status %+v, want routed to no Alert", e.Status)
	}
	if _, err := createBatch(t, b, newEvent("matched one"), newEvent("matched two")); !apierrors.IsTooManyRequests(err) {
		t.Errorf("a batch of Events Alerts may take, at the limit: %v, want 429", err)
	}
	got, err := createBatch(t, b, newEvent("matched"), unmatched("unmatched"))
	if err != nil || len(got) != 2 || got[0].Code != http.StatusTooManyRequests || got[1].Code != http.StatusCreated {
		t.Errorf("a mixed batch at the limit: %+v %v, want 429 then 201", got, err)
	}
}
