package address

import (
	"strings"
	"testing"
)

func TestParseRepository(t *testing.T) {
	tests := []struct {
		typ, address                      string
		wantPath, wantOwner, wantName     string
		wantAPIBase, wantOrg, wantProject string
	}{
		{"github", "https://github.com/stefanprodan/podinfo", "stefanprodan/podinfo", "stefanprodan", "podinfo", "https://api.github.com", "", ""},
		{"github", "git@github.com:stefanprodan/podinfo.git", "stefanprodan/podinfo", "stefanprodan", "podinfo", "https://api.github.com", "", ""},
		{"github", "https://github.example.com/org/repo.git", "org/repo", "org", "repo", "https://github.example.com/api/v3", "", ""},
		{"githubdispatch", "ssh://git@github.com/org/repo", "org/repo", "org", "repo", "https://api.github.com", "", ""},
		{"gitlab", "https://gitlab.com/group/sub/project", "group/sub/project", "", "", "https://gitlab.com/api/v4", "", ""},
		{"gitlab", "http://127.0.0.1:8080/group/project", "group/project", "", "", "http://127.0.0.1:8080/api/v4", "", ""},
		{"gitea", "https://gitea.example.com:3000/owner/repo", "owner/repo", "owner", "repo", "https://gitea.example.com:3000/api/v1", "", ""},
		{"bitbucket", "https://bitbucket.org/workspace/repo.git", "workspace/repo", "workspace", "repo", "https://api.bitbucket.org/2.0", "", ""},
		{"bitbucket", "http://127.0.0.1:9000/workspace/repo", "workspace/repo", "workspace", "repo", "http://127.0.0.1:9000", "", ""},
		{"bitbucketserver", "https://bb.example.com/ctx/scm/PROJ/repo.git", "PROJ/repo", "PROJ", "repo", "https://bb.example.com/ctx/rest/api/latest", "", ""},
		{"azuredevops", "https://dev.azure.com/org/proj/_git/repo", "org/proj/_git/repo", "", "repo", "https://dev.azure.com/org", "org", "proj"},
	}
	for _, tc := range tests {
		r, err := ParseRepository(tc.typ, tc.address)
		if err != nil {
			t.Errorf("%s %s: %v", tc.typ, tc.address, err)
			continue
		}
		if r.Path != tc.wantPath || r.Owner != tc.wantOwner || r.Name != tc.wantName || r.APIBase != tc.wantAPIBase ||
			r.Organization != tc.wantOrg || r.Project != tc.wantProject {
			t.Errorf("%s %s: parsed %+v", tc.typ, tc.address, r)
		}
	}
}

func TestParseEventHub(t *testing.T) {
	hub, err := ParseEventHub("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=;EntityPath=flux")
	if err != nil || hub.Name != "flux" || hub.KeyName != "send" || hub.Endpoint != "sb://ns.servicebus.windows.net/" {
		t.Errorf("SAS: %+v, %v", hub, err)
	}
	if hub, err := ParseEventHub("flux-events"); err != nil || hub.Name != "flux-events" || hub.ConnectionString != "" {
		t.Errorf("name: %+v, %v", hub, err)
	}
	for _, bad := range []string{"", "-lead", "has space", "Endpoint=https://x/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=c", "a=b;c"} {
		if _, err := ParseEventHub(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidateGCPProjectID(t *testing.T) {
	for id, ok := range map[string]bool{
		"my-project": true, "p12345": true, "example.com:my-project": true,
		"short": false, "1starts-with-digit": false, "ends-with-": false, "Upper-Case": false,
		strings.Repeat("a", 31): false,
	} {
		if err := ValidateGCPProjectID(id); (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", id, err, ok)
		}
	}
}

func FuzzParseRepository(f *testing.F) {
	for _, seed := range []string{
		"https://github.com/org/repo", "git@github.com:org/repo.git", "ssh://git@h:22/a/b",
		"https://gitlab.com/a/b/c", "https://dev.azure.com/o/p/_git/r", "https://bb/ctx/scm/P/r.git",
		"http://[::1]:80/a/b", "https://h/%2e%2e/b", "",
	} {
		for _, typ := range []string{GitHub, GitLab, Gitea, Bitbucket, BitbucketServer, AzureDevOps} {
			f.Add(typ, seed)
		}
	}
	f.Fuzz(func(t *testing.T, typ, addr string) {
		r, err := ParseRepository(typ, addr)
		if err != nil {
			// Addresses can carry tokens: errors never repeat them.
			if len(addr) >= 12 && strings.Contains(err.Error(), addr) {
				t.Errorf("error %q repeats the address", err)
			}
			return
		}
		if r.Path == "" || r.APIBase == "" || !strings.HasPrefix(r.Host, "http") {
			t.Errorf("%s %q parsed to %+v", typ, addr, r)
		}
		for _, seg := range strings.Split(r.Path, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Errorf("%s %q parsed to path %q", typ, addr, r.Path)
			}
		}
	})
}

func FuzzParseEventHub(f *testing.F) {
	f.Add("flux-events")
	f.Add("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=h")
	f.Add("Endpoint=;;=")
	f.Fuzz(func(t *testing.T, s string) {
		hub, err := ParseEventHub(s)
		if err != nil {
			if strings.Contains(s, "SharedAccessKey=") && len(s) > 40 && strings.Contains(err.Error(), s) {
				t.Errorf("error repeats the connection string")
			}
			return
		}
		if hub.Name == "" {
			t.Errorf("%q parsed without a hub name", s)
		}
	})
}

func FuzzParseHTTPURL(f *testing.F) {
	for _, s := range []string{"https://a/b", "http://u:p@h:1/x?y#z", "ftp://x", "//h/p", "https://", "http://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseHTTPURL(s)
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			t.Errorf("%q accepted as %v", s, u)
		}
	})
}
