package notifier

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

const sha = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"

func TestRevision(t *testing.T) {
	for md, want := range map[string]string{
		"main@sha1:" + sha:              sha,
		"main/" + sha:                   sha,
		"environment/dev/" + sha:        sha,
		"sha1:" + sha:                   sha,
		sha:                             sha,
		strings.ToUpper(sha):            sha,
		"main":                          "",
		"main@sha256:" + sha + sha[:24]: "",
		"v1.2.3":                        "",
	} {
		got, ok := Revision(map[string]string{"revision": md})
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", md, got, ok, want)
		}
	}
	if got, _ := Revision(map[string]string{"revision": "main@sha1:" + strings.Repeat("a", 40), "commit": sha}); got != sha {
		t.Errorf("commit does not win over revision: %s", got)
	}
}

func FuzzRevision(f *testing.F) {
	for _, s := range []string{"main@sha1:" + sha, "main/" + sha, sha, "", ":", "a/b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rev string) {
		got, ok := Revision(map[string]string{"revision": rev})
		if ok && (len(got) != 40 || !strings.Contains(strings.ToLower(rev), got)) {
			t.Errorf("%q gave %q", rev, got)
		}
	})
}

func TestDescribe(t *testing.T) {
	for in, want := range map[string]string{"ReconciliationSucceeded": "reconciliation succeeded", "Progressing": "progressing", "HealthCheckFailed": "health check failed"} {
		if got := describe(in); got != want {
			t.Errorf("%s: %q", in, got)
		}
	}
}

// gitFake is a strict fake of one service's commit status API: it checks
// method, path, auth and fields, keeps the statuses it was given, and
// answers list calls from them.
type gitFake struct {
	t          *testing.T
	listPath   string
	createPath string
	auth       func(*http.Request) bool
	fields     []string
	stateField string
	states     []string // the service's state names
	list       func(posted []map[string]any) any
	repeat400  bool // GitLab refuses a repeated state with 400
	mu         sync.Mutex
	posted     []map[string]any
}

func (f *gitFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.auth(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == f.listPath:
		answer := any(nil)
		if f.list != nil {
			answer = f.list(f.posted)
		}
		if answer == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	case r.Method == http.MethodPost && path == f.createPath:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, field := range f.fields {
			if _, ok := body[field]; !ok {
				f.t.Errorf("%s: body lacks %s: %v", f.createPath, field, body)
			}
		}
		state, _ := body[f.stateField].(string)
		valid := false
		for _, s := range f.states {
			valid = valid || s == state
		}
		if !valid {
			f.t.Errorf("%s: state %q is not one of %v", f.createPath, state, f.states)
		}
		if f.repeat400 && len(f.posted) > 0 && f.posted[len(f.posted)-1][f.stateField] == state {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"message":"Cannot transition status via :run from :running"}`)
			return
		}
		f.posted = append(f.posted, body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{}`)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, path)
		w.WriteHeader(http.StatusNotFound)
	}
}

func bearer(token string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+token }
}

func TestCommitStatusServices(t *testing.T) {
	tests := []struct {
		typ, path string
		settings  settings.Settings
		fake      *gitFake
		want      map[string]string // what the info event posts
	}{
		{"github", "/org/repo", settings.Settings{Token: "ghp"}, &gitFake{
			listPath: "/api/v3/repos/org/repo/commits/" + sha + "/statuses", createPath: "/api/v3/repos/org/repo/statuses/" + sha,
			auth: bearer("ghp"), fields: []string{"state", "description", "context"}, stateField: "state",
			states: []string{"error", "failure", "pending", "success"},
			list: func(p []map[string]any) any {
				out := []map[string]any{}
				for i := len(p) - 1; i >= 0; i-- {
					out = append(out, p[i])
				}
				return out
			},
		}, map[string]string{"state": "success", "context": "kustomization/webapp/prod cluster", "description": "reconciliation succeeded"}},
		{"gitlab", "/group/sub/project", settings.Settings{Token: "glpat"}, &gitFake{
			listPath: "/api/v4/projects/group%2Fsub%2Fproject/repository/commits/" + sha + "/statuses", createPath: "/api/v4/projects/group%2Fsub%2Fproject/statuses/" + sha,
			auth: func(r *http.Request) bool { return r.Header.Get("PRIVATE-TOKEN") == "glpat" }, fields: []string{"state", "name", "description"}, stateField: "state",
			states: []string{"pending", "running", "success", "failed", "canceled", "skipped"}, repeat400: true,
			list: func(p []map[string]any) any {
				out := []map[string]any{}
				for _, s := range p {
					out = append(out, map[string]any{"status": s["state"], "name": s["name"], "description": s["description"]})
				}
				return out
			},
		}, map[string]string{"state": "success", "name": "kustomization/webapp/prod cluster"}},
		{"gitea", "/owner/repo", settings.Settings{Token: "gt"}, &gitFake{
			listPath: "/api/v1/repos/owner/repo/commits/" + sha + "/statuses", createPath: "/api/v1/repos/owner/repo/statuses/" + sha,
			auth:   func(r *http.Request) bool { return r.Header.Get("Authorization") == "token gt" },
			fields: []string{"state", "target_url", "description", "context"}, stateField: "state",
			states: []string{"pending", "success", "error", "failure", "warning"},
			list: func(p []map[string]any) any {
				out := []map[string]any{}
				for i := len(p) - 1; i >= 0; i-- {
					out = append(out, map[string]any{"status": p[i]["state"], "context": p[i]["context"], "description": p[i]["description"]})
				}
				return out
			},
		}, map[string]string{"state": "success"}},
		{"bitbucket", "/workspace/repo", settings.Settings{Token: "user:app-pass"}, &gitFake{
			createPath: "/repositories/workspace/repo/commit/" + sha + "/statuses/build",
			auth: func(r *http.Request) bool {
				return r.Header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte("user:app-pass"))
			},
			fields: []string{"state", "key", "url", "name", "description"}, stateField: "state",
			states: []string{"INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"},
			list: func(p []map[string]any) any { // the last status of the key, 404 when none
				if len(p) == 0 {
					return nil
				}
				return p[len(p)-1]
			},
		}, map[string]string{"state": "SUCCESSFUL", "name": "kustomization/webapp/prod cluster", "key": sha1Hex([]byte("kustomization/webapp/prod cluster"))}},
		{"bitbucketserver", "/ctx/scm/PROJ/repo.git", settings.Settings{Token: "bbs"}, &gitFake{
			listPath: "/ctx/rest/api/latest/projects/PROJ/repos/repo/commits/" + sha + "/builds", createPath: "/ctx/rest/api/latest/projects/PROJ/repos/repo/commits/" + sha + "/builds",
			auth: bearer("bbs"), fields: []string{"key", "state", "url", "description", "name"}, stateField: "state",
			states: []string{"INPROGRESS", "SUCCESSFUL", "FAILED"},
			list:   func(p []map[string]any) any { return map[string]any{"values": p} },
		}, map[string]string{"state": "SUCCESSFUL"}},
		{"azuredevops", "/org/project/_git/repo", settings.Settings{Token: "pat"}, &gitFake{
			listPath: "/org/project/_apis/git/repositories/repo/commits/" + sha + "/statuses", createPath: "/org/project/_apis/git/repositories/repo/commits/" + sha + "/statuses",
			auth: func(r *http.Request) bool {
				return r.Header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte(":pat")) && r.URL.Query().Get("api-version") == "7.1"
			},
			fields: []string{"state", "description", "context"}, stateField: "state",
			states: []string{"error", "failed", "notApplicable", "notSet", "pending", "succeeded"},
			list:   func(p []map[string]any) any { return map[string]any{"value": p} },
		}, map[string]string{"state": "succeeded"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			tc.fake.t = t
			srv := httptest.NewServer(tc.fake)
			defer srv.Close()
			s := tc.settings
			s.Type, s.Address = tc.typ, srv.URL+tc.path
			if tc.typ == "bitbucket" {
				// The key is the hex SHA-1 of the context.
				tc.fake.listPath = tc.fake.createPath + "/" + sha1Hex([]byte("kustomization/webapp/prod cluster"))
			}
			c, err := NewClient(&s, 0)
			if err != nil {
				t.Fatal(err)
			}
			n, err := New(&s, c)
			if err != nil {
				t.Fatal(err)
			}
			info := sampleEvent()
			info.Severity, info.Reason = "info", "ReconciliationSucceeded"
			info.Metadata["revision"] = "main@sha1:" + sha
			for i := range 2 { // the second is a duplicate: not posted again
				if err := n.Post(t.Context(), info); err != nil {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			failed := sampleEvent()
			failed.Metadata["revision"] = "main/" + sha
			if err := n.Post(t.Context(), failed); err != nil {
				t.Fatalf("post of the error: %v", err)
			}
			tc.fake.mu.Lock()
			defer tc.fake.mu.Unlock()
			if len(tc.fake.posted) != 2 {
				t.Fatalf("%d statuses posted, want 2 (the repeat skipped): %v", len(tc.fake.posted), tc.fake.posted)
			}
			for k, v := range tc.want {
				if tc.fake.posted[0][k] != v {
					t.Errorf("posted %s = %v, want %v", k, tc.fake.posted[0][k], v)
				}
			}
			if tc.fake.posted[1][tc.fake.stateField] == tc.fake.posted[0][tc.fake.stateField] {
				t.Errorf("the error posted the same state %v", tc.fake.posted[1])
			}
		})
	}
}

func TestCommitStatusSkipsEventsWithoutARevision(t *testing.T) {
	s := &settings.Settings{Type: "github", Address: "https://github.com/org/repo", Token: "t"}
	c, _ := NewClient(s, 0)
	n, err := New(s, c)
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEvent()
	delete(e.Metadata, "revision")
	if err := n.Post(t.Context(), e); !IsSkip(err) {
		t.Errorf("err %v, want a skip", err)
	}
}

func TestBitbucketKeysAreHashedToFortyCharacters(t *testing.T) {
	e := sampleEvent()
	e.Metadata["summary"] = strings.Repeat("long cluster name ", 5)
	if got := (hashedKey{}).key(statusContext(e, 255)); len(got) != 40 {
		t.Errorf("key %q is %d long", got, len(got))
	}
	if got := statusContext(e, 40); len(got) != 40 {
		t.Errorf("context %q is %d long", got, len(got))
	}
	if got := statusContext(sampleEvent(), 255); got != "kustomization/webapp/prod cluster" {
		t.Errorf("context %q", got)
	}
}

func TestGitLabRefusingARepeatedStateIsDone(t *testing.T) {
	fake := &gitFake{t: t,
		listPath: "/api/v4/projects/g%2Fp/repository/commits/" + sha + "/statuses", createPath: "/api/v4/projects/g%2Fp/statuses/" + sha,
		auth: func(r *http.Request) bool { return r.Header.Get("PRIVATE-TOKEN") == "glpat" }, fields: []string{"state", "name"}, stateField: "state",
		states: []string{"pending", "running", "success", "failed"}, repeat400: true,
		list: func([]map[string]any) any { return []any{} }, // a list that misses the status
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := &settings.Settings{Type: "gitlab", Address: srv.URL + "/g/p", Token: "glpat"}
	c, _ := NewClient(s, 0)
	n, err := New(s, c)
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEvent()
	e.Metadata["revision"] = sha
	for i := range 2 {
		if err := n.Post(t.Context(), e); err != nil {
			t.Fatalf("post %d: %v (GitLab's 400 on a repeated state means it is there)", i, err)
		}
	}
	if len(fake.posted) != 1 {
		t.Errorf("%d statuses stored", len(fake.posted))
	}
}
