package notifier

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// service is a strict fake of one SaaS API: it checks what the service
// documents and answers as it does.
type service struct {
	method, path, rawQuery, auth string
	required                     []string // top-level JSON fields the service requires
	answer                       string
	status                       int
	array                        bool // the body is a JSON array of objects
}

type captured struct {
	body    []byte
	problem string
}

func (s service) handler(got *captured) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got.body, _ = io.ReadAll(r.Body)
		var problems []string
		if r.Method != s.method {
			problems = append(problems, "method "+r.Method)
		}
		if r.URL.EscapedPath() != s.path {
			problems = append(problems, "path "+r.URL.EscapedPath())
		}
		if r.URL.RawQuery != s.rawQuery {
			problems = append(problems, "query "+r.URL.RawQuery)
		}
		if r.Header.Get("Authorization") != s.auth {
			problems = append(problems, "authorization "+r.Header.Get("Authorization"))
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			problems = append(problems, "content type "+r.Header.Get("Content-Type"))
		}
		var fields map[string]any
		if s.array {
			var list []map[string]any
			if err := json.Unmarshal(got.body, &list); err != nil || len(list) != 1 {
				problems = append(problems, "body is not a list of one object")
			} else {
				fields = list[0]
			}
		} else if err := json.Unmarshal(got.body, &fields); err != nil {
			problems = append(problems, "body is not a JSON object")
		}
		for _, f := range s.required {
			if v, ok := fields[f]; !ok || v == "" {
				problems = append(problems, "missing "+f)
			}
		}
		got.problem = strings.Join(problems, "; ")
		if got.problem != "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status := s.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		io.WriteString(w, s.answer)
	}
}

func TestEachTypeSendsWhatItsServiceDocuments(t *testing.T) {
	tests := []struct {
		typ      string
		settings func(base string) *settings.Settings
		service  service
	}{
		{"discord", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/api/webhooks/123/tok"}
		}, service{method: "POST", path: "/api/webhooks/123/tok/slack", required: []string{"attachments", "username"}}},
		{"rocket", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/hooks/abc/tok", Channel: "#flux", Username: "flux"}
		}, service{method: "POST", path: "/hooks/abc/tok", required: []string{"channel", "username", "attachments"}, answer: `{"success":true}`}},
		{"msteams", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/workflows/x/triggers/manual/paths/invoke?api-version=2016-06-01&sig=a%2Fb"}
		}, service{method: "POST", path: "/workflows/x/triggers/manual/paths/invoke", rawQuery: "api-version=2016-06-01&sig=a%2Fb", required: []string{"type", "attachments"}, status: http.StatusAccepted}},
		{"googlechat", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/v1/spaces/AAA/messages?key=k&token=t%3D"}
		}, service{method: "POST", path: "/v1/spaces/AAA/messages", rawQuery: "key=k&token=t%3D", required: []string{"cards"}}},
		{"webex", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/v1/messages", Channel: "room-id", Token: "bot-token"}
		}, service{method: "POST", path: "/v1/messages", auth: "Bearer bot-token", required: []string{"roomId", "markdown"}}},
		{"telegram", func(b string) *settings.Settings {
			return &settings.Settings{Address: b, Channel: "-100123:7", Token: "123:ABC"}
		}, service{method: "POST", path: "/bot123:ABC/sendMessage", required: []string{"chat_id", "text", "parse_mode", "message_thread_id"}, answer: `{"ok":true,"result":{}}`}},
		{"lark", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/open-apis/bot/v2/hook/tok"}
		}, service{method: "POST", path: "/open-apis/bot/v2/hook/tok", required: []string{"msg_type", "card"}, answer: `{"code":0,"msg":"success"}`}},
		{"matrix", func(b string) *settings.Settings {
			return &settings.Settings{Address: b, Channel: "!room:example.org", Token: "syt_token"}
		}, service{method: "PUT", path: "/_matrix/client/r0/rooms/%21room:example.org/send/m.room.message/" + matrixTxn(), auth: "Bearer syt_token", required: []string{"msgtype", "body"}}},
		{"opsgenie", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/v2/alerts", Token: "genie"}
		}, service{method: "POST", path: "/v2/alerts", auth: "GenieKey genie", required: []string{"message", "description", "details"}, status: http.StatusAccepted}},
		{"alertmanager", func(b string) *settings.Settings {
			return &settings.Settings{Address: strings.Replace(b, "http://", "http://flux:s3cret@", 1) + "/api/v2/alerts"}
		}, service{method: "POST", path: "/api/v2/alerts", auth: basicAuth("flux", "s3cret"), required: []string{"labels", "annotations", "startsAt"}, array: true}},
		{"grafana", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/api/annotations", Token: "glsa", Username: "u", Password: "p"}
		}, service{method: "POST", path: "/api/annotations", auth: "Bearer glsa", required: []string{"text", "tags", "time"}, answer: `{"message":"Annotation added","id":1}`}},
		{"datadog", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/ignored/path", Token: "dd-key"}
		}, service{method: "POST", path: "/api/v1/events", required: []string{"alert_type", "date_happened", "source_type_name", "tags", "text", "title"}, status: http.StatusAccepted}},
		{"githubdispatch", func(b string) *settings.Settings {
			return &settings.Settings{Address: b + "/stefanprodan/podinfo.git", Token: "ghp_token"}
		}, service{method: "POST", path: "/api/v3/repos/stefanprodan/podinfo/dispatches", auth: "Bearer ghp_token", required: []string{"event_type", "client_payload"}, status: http.StatusNoContent}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			got := &captured{}
			srv := httptest.NewServer(tc.service.handler(got))
			defer srv.Close()
			s := tc.settings(srv.URL)
			s.Type = tc.typ
			if err := post(t, s); err != nil {
				t.Fatalf("post: %v (fake: %s)", err, got.problem)
			}
			if got.problem != "" {
				t.Fatalf("the fake saw: %s", got.problem)
			}
			golden(t, tc.typ+".json", wrapArray(got.body))
		})
	}
}

// wrapArray lets golden compare a JSON array body as an object.
func wrapArray(b []byte) []byte {
	if len(b) > 0 && b[0] == '[' {
		return append(append([]byte(`{"list":`), b...), '}')
	}
	return b
}

func matrixTxn() string {
	// The transaction ID is the hex SHA-1 of the event JSON: stable per event.
	raw, _ := json.Marshal(sampleEvent())
	return sha1Hex(raw)
}

func TestMSTeamsLegacyConnectorGetsAMessageCard(t *testing.T) {
	card := MSTeamsPayload(sampleEvent(), "https://acme.webhook.office.com/webhookb2/x").(map[string]any)
	if card["@type"] != "MessageCard" || card["themeColor"] != "FF0000" {
		t.Errorf("legacy card %v", card)
	}
	workflow := MSTeamsPayload(sampleEvent(), "https://prod.westus.logic.azure.com/workflows/x").(map[string]any)
	if workflow["type"] != "message" {
		t.Errorf("workflows card %v", workflow)
	}
}

func TestDiscordAppendsSlackOnce(t *testing.T) {
	for in, want := range map[string]string{
		"https://discord.com/api/webhooks/1/t":        "https://discord.com/api/webhooks/1/t/slack",
		"https://discord.com/api/webhooks/1/t/slack":  "https://discord.com/api/webhooks/1/t/slack",
		"https://discord.com/api/webhooks/1/t/slack/": "https://discord.com/api/webhooks/1/t/slack/",
	} {
		if got := slackSuffix(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestTelegramEscapesMarkdownV2(t *testing.T) {
	e := sampleEvent()
	e.Message = "a_b*c[d](e)~f`g>h#i+j-k=l|m{n}o.p!q\\r"
	text := TelegramPayload(e, "@chan")["text"]
	if !strings.Contains(text, `a\_b\*c\[d\]\(e\)\~f\`+"`"+`g\>h\#i\+j\-k\=l\|m\{n\}o\.p\!q\\r`) {
		t.Errorf("text %q", text)
	}
}

func TestLarkAndTelegramErrorsInsideA200AreFailures(t *testing.T) {
	for typ, answer := range map[string]string{"lark": `{"code":19021,"msg":"sign match fail"}`, "telegram": `{"ok":false,"description":"Bad Request: chat not found"}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, answer) }))
		err := post(t, &settings.Settings{Type: typ, Address: srv.URL, Channel: "1", Token: "t"})
		srv.Close()
		if err == nil || !Retryable(err) {
			t.Errorf("%s: err %v, want a retryable failure", typ, err)
		}
	}
}

func TestAlertmanagerLabels(t *testing.T) {
	e := sampleEvent()
	e.Metadata["weird.key-name"] = "v"
	alert := AlertmanagerPayload(e).([]any)[0].(map[string]any)
	labels := alert["labels"].(map[string]string)
	if labels["alertname"] != "FluxKustomizationValidationFailed" || labels["severity"] != "error" || labels["weird_key_name"] != "v" ||
		labels["timestamp"] != "2022-10-28T07:26:19Z" || labels["summary"] != "" {
		t.Errorf("labels %v", labels)
	}
	if alert["annotations"].(map[string]string)["summary"] != "prod cluster" {
		t.Errorf("annotations %v", alert["annotations"])
	}
}
