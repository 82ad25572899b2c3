package peers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/notifier"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

const pubsubEmulator = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"

// startPubSub runs the Google Pub/Sub emulator on a free loopback port
// until the test ends and returns its host:port.
func startPubSub(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(pubsubEmulator); err != nil {
		t.Fatalf("the Pub/Sub emulator (google-cloud-cli) is not installed: %v", err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(pubsubEmulator, "--host=127.0.0.1", "--port="+host[len("127.0.0.1:"):])
	cmd.Env = append(os.Environ(), "JAVA_TOOL_OPTIONS=-Xmx256m")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the script starts java: stop both
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return host
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Pub/Sub emulator is not ready: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func rest(t *testing.T, method, url string, body any) map[string]any {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %v", method, url, resp.StatusCode, out)
	}
	return out
}

func TestPubSubMessageIsPulledBackWithItsAttributes(t *testing.T) {
	host := startPubSub(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", host)
	base := "http://" + host + "/v1/projects/flux-project"
	rest(t, http.MethodPut, base+"/topics/flux-events", map[string]any{})
	rest(t, http.MethodPut, base+"/subscriptions/flux-sub", map[string]any{"topic": "projects/flux-project/topics/flux-events"})

	s := &settings.Settings{Type: "googlepubsub", Address: "flux-project", Channel: "flux-events",
		Headers: map[string]string{"cluster": "prod", "team": "platform"}}
	client, err := notifier.NewClient(s, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n, err := notifier.New(s, client)
	if err != nil {
		t.Fatal(err)
	}
	event := notifier.Event{
		InvolvedObject: notifier.ObjectReference{Kind: "HelmRelease", Namespace: "apps", Name: "podinfo"},
		Severity:       "info", Timestamp: metav1.Now(), Reason: "UpgradeSucceeded", Message: "upgraded to 6.5.0",
		ReportingController: "helm-controller",
	}
	if err := n.Post(context.Background(), event); err != nil {
		t.Fatalf("publishing: %v", err)
	}

	out := rest(t, http.MethodPost, base+"/subscriptions/flux-sub:pull", map[string]any{"maxMessages": 10})
	msgs, _ := out["receivedMessages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("pulled %v", out)
	}
	msg := msgs[0].(map[string]any)["message"].(map[string]any)
	data, _ := base64.StdEncoding.DecodeString(msg["data"].(string))
	var got notifier.Event
	if err := json.Unmarshal(data, &got); err != nil || got.Message != event.Message || got.InvolvedObject.Name != "podinfo" {
		t.Errorf("data %s: %v", data, err)
	}
	attrs, _ := msg["attributes"].(map[string]any)
	if attrs["cluster"] != "prod" || attrs["team"] != "platform" {
		t.Errorf("attributes %v", attrs)
	}
}
