// Package conditions names the status conditions of Providers and Alerts
// and sets them the way kstatus reads them: Ready, with Reconciling and
// Stalled present only while true.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types.
const (
	Ready       = "Ready"
	Reconciling = "Reconciling"
	Stalled     = "Stalled"
)

// Reasons.
const (
	Progressing          = "Progressing"
	ProgressingWithRetry = "ProgressingWithRetry"
	Succeeded            = "Succeeded"
	InvalidURL           = "InvalidURL"
	ValidationFailed     = "ValidationFailed"
	Failed               = "Failed"
)

// MarkReconciling records that a new generation awaits its check:
// Ready=Unknown, Reconciling=True (Progressing), no Stalled.
func MarkReconciling(conds *[]metav1.Condition, generation int64) {
	set(conds, Ready, metav1.ConditionUnknown, Progressing, "Reconciliation in progress", generation)
	set(conds, Reconciling, metav1.ConditionTrue, Progressing, "Reconciliation in progress", generation)
	meta.RemoveStatusCondition(conds, Stalled)
}

// MarkReady records success: Ready=True, no Reconciling, no Stalled.
func MarkReady(conds *[]metav1.Condition, generation int64, message string) {
	set(conds, Ready, metav1.ConditionTrue, Succeeded, message, generation)
	meta.RemoveStatusCondition(conds, Reconciling)
	meta.RemoveStatusCondition(conds, Stalled)
}

// MarkRetrying records a failure that is retried: Ready=False,
// Reconciling=True (ProgressingWithRetry), no Stalled.
func MarkRetrying(conds *[]metav1.Condition, generation int64, reason, message string) {
	set(conds, Ready, metav1.ConditionFalse, reason, message, generation)
	set(conds, Reconciling, metav1.ConditionTrue, ProgressingWithRetry, message, generation)
	meta.RemoveStatusCondition(conds, Stalled)
}

// MarkStalled records a failure that only a change can fix: Ready=False,
// Stalled=True, no Reconciling.
func MarkStalled(conds *[]metav1.Condition, generation int64, reason, message string) {
	set(conds, Ready, metav1.ConditionFalse, reason, message, generation)
	set(conds, Stalled, metav1.ConditionTrue, reason, message, generation)
	meta.RemoveStatusCondition(conds, Reconciling)
}

func set(conds *[]metav1.Condition, typ string, status metav1.ConditionStatus, reason, message string, generation int64) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
	})
}
