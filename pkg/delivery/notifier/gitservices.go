package notifier

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
)

// getJSON reads a JSON answer; a 404 is an empty answer when allowed.
func getJSON(ctx context.Context, c *Client, target, auth string, out any, notFoundIsEmpty bool) error {
	header := http.Header{}
	header.Set("Accept", "application/json")
	if auth != "" {
		header.Set("Authorization", auth)
	}
	resp, err := c.Do(ctx, http.MethodGet, target, nil, header)
	if err != nil {
		if notFoundIsEmpty && resp != nil && resp.Status == http.StatusNotFound {
			return nil
		}
		return err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return retryable("%s answered with a body that is not the JSON expected", hostOf(target))
	}
	return nil
}

type githubStatuses struct {
	sameKey
	client *Client
	repo   address.Repository
	token  string
}

func (g *githubStatuses) states() map[string]string {
	return map[string]string{stateFailure: "failure", statePending: "pending", stateSuccess: "success"}
}
func (g *githubStatuses) descriptionLimit() int { return 140 }
func (g *githubStatuses) contextLimit() int     { return 255 }

func (g *githubStatuses) base() string {
	return g.repo.APIBase + "/repos/" + url.PathEscape(g.repo.Owner) + "/" + url.PathEscape(g.repo.Name)
}

func (g *githubStatuses) list(ctx context.Context, sha, _ string) ([]commitStatus, error) {
	var statuses []struct{ State, Description, Context string }
	if err := getJSON(ctx, g.client, g.base()+"/commits/"+sha+"/statuses?per_page=50", "Bearer "+g.token, &statuses, false); err != nil {
		return nil, err
	}
	out := make([]commitStatus, 0, len(statuses))
	for _, s := range statuses { // newest first
		out = append(out, commitStatus{State: s.State, Description: s.Description, Context: s.Context})
	}
	return out, nil
}

func (g *githubStatuses) create(ctx context.Context, sha string, s commitStatus) error {
	_, err := postJSON(ctx, g.client, http.MethodPost, g.base()+"/statuses/"+sha,
		map[string]string{"state": s.State, "description": s.Description, "context": s.Context}, "Bearer "+g.token)
	return err
}

type gitlabStatuses struct {
	sameKey
	client *Client
	repo   address.Repository
	token  string
}

func (g *gitlabStatuses) states() map[string]string {
	return map[string]string{stateFailure: "failed", statePending: "running", stateSuccess: "success"}
}
func (g *gitlabStatuses) descriptionLimit() int { return 255 }
func (g *gitlabStatuses) contextLimit() int     { return 255 }

func (g *gitlabStatuses) project() string {
	return g.repo.APIBase + "/projects/" + url.PathEscape(g.repo.Path)
}

func (g *gitlabStatuses) do(ctx context.Context, method, target string, body []byte) (*Response, error) {
	header := http.Header{}
	header.Set("PRIVATE-TOKEN", g.token)
	header.Set("Content-Type", "application/json")
	return g.client.Do(ctx, method, target, body, header)
}

func (g *gitlabStatuses) list(ctx context.Context, sha, name string) ([]commitStatus, error) {
	resp, err := g.do(ctx, http.MethodGet, g.project()+"/repository/commits/"+sha+"/statuses?all=true&name="+url.QueryEscape(name), nil)
	if err != nil {
		return nil, err
	}
	var statuses []struct{ Status, Description, Name string }
	if err := json.Unmarshal(resp.Body, &statuses); err != nil {
		return nil, retryable("GitLab answered with a body that is not the JSON expected")
	}
	var out []commitStatus
	for _, s := range statuses {
		if s.Name == name {
			out = append(out, commitStatus{State: s.Status, Description: s.Description, Context: s.Name})
		}
	}
	// GitLab lists oldest first: put the newest first, as the others do.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func (g *gitlabStatuses) create(ctx context.Context, sha string, s commitStatus) error {
	body, _ := json.Marshal(map[string]string{"state": s.State, "name": s.Context, "description": s.Description})
	resp, err := g.do(ctx, http.MethodPost, g.project()+"/statuses/"+sha, body)
	if err != nil && resp != nil && resp.Status == http.StatusBadRequest && strings.Contains(string(resp.Body), "Cannot transition status") {
		return nil // GitLab already has the commit in that state
	}
	return err
}

type giteaStatuses struct {
	sameKey
	client *Client
	repo   address.Repository
	token  string
}

func (g *giteaStatuses) states() map[string]string {
	return map[string]string{stateFailure: "failure", statePending: "pending", stateSuccess: "success"}
}
func (g *giteaStatuses) descriptionLimit() int { return 255 }
func (g *giteaStatuses) contextLimit() int     { return 255 }

func (g *giteaStatuses) base() string {
	return g.repo.APIBase + "/repos/" + url.PathEscape(g.repo.Owner) + "/" + url.PathEscape(g.repo.Name)
}

func (g *giteaStatuses) list(ctx context.Context, sha, _ string) ([]commitStatus, error) {
	var statuses []struct{ Status, Description, Context string }
	if err := getJSON(ctx, g.client, g.base()+"/commits/"+sha+"/statuses?limit=50&page=1", "token "+g.token, &statuses, false); err != nil {
		return nil, err
	}
	out := make([]commitStatus, 0, len(statuses))
	for _, s := range statuses {
		out = append(out, commitStatus{State: s.Status, Description: s.Description, Context: s.Context})
	}
	return out, nil
}

func (g *giteaStatuses) create(ctx context.Context, sha string, s commitStatus) error {
	_, err := postJSON(ctx, g.client, http.MethodPost, g.base()+"/statuses/"+sha,
		map[string]string{"state": s.State, "target_url": "", "description": s.Description, "context": s.Context}, "token "+g.token)
	return err
}

type bitbucketStatuses struct {
	hashedKey
	client *Client
	repo   address.Repository
	token  string // <username>:<app password>
}

func (b *bitbucketStatuses) states() map[string]string {
	return map[string]string{stateFailure: "FAILED", statePending: "INPROGRESS", stateSuccess: "SUCCESSFUL"}
}
func (b *bitbucketStatuses) descriptionLimit() int { return 255 }
func (b *bitbucketStatuses) contextLimit() int     { return 255 } // the name; the key is hashed

func (b *bitbucketStatuses) auth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(b.token))
}

func (b *bitbucketStatuses) base(sha string) string {
	return b.repo.APIBase + "/repositories/" + url.PathEscape(b.repo.Owner) + "/" + url.PathEscape(b.repo.Name) + "/commit/" + sha + "/statuses/build"
}

func (b *bitbucketStatuses) list(ctx context.Context, sha, key string) ([]commitStatus, error) {
	var s struct{ State, Description, Key string }
	if err := getJSON(ctx, b.client, b.base(sha)+"/"+url.PathEscape(key), b.auth(), &s, true); err != nil {
		return nil, err
	}
	if s.Key == "" {
		return nil, nil
	}
	return []commitStatus{{State: s.State, Description: s.Description, Context: s.Key}}, nil
}

func (b *bitbucketStatuses) create(ctx context.Context, sha string, s commitStatus) error {
	_, err := postJSON(ctx, b.client, http.MethodPost, b.base(sha), map[string]string{
		"state": s.State, "key": s.Context, "name": s.Name, "description": s.Description, "url": "https://bitbucket.org",
	}, b.auth())
	return err
}

type bitbucketServerStatuses struct {
	hashedKey
	client             *Client
	repo               address.Repository
	token              string
	username, password string
	address            string
}

func (b *bitbucketServerStatuses) states() map[string]string {
	return map[string]string{stateFailure: "FAILED", statePending: "INPROGRESS", stateSuccess: "SUCCESSFUL"}
}
func (b *bitbucketServerStatuses) descriptionLimit() int { return 255 }
func (b *bitbucketServerStatuses) contextLimit() int     { return 255 }

func (b *bitbucketServerStatuses) auth() string {
	if b.token != "" {
		return "Bearer " + b.token
	}
	return basicAuth(b.username, b.password)
}

func (b *bitbucketServerStatuses) base(sha string) string {
	return b.repo.APIBase + "/projects/" + url.PathEscape(b.repo.Owner) + "/repos/" + url.PathEscape(b.repo.Name) + "/commits/" + sha + "/builds"
}

func (b *bitbucketServerStatuses) list(ctx context.Context, sha, key string) ([]commitStatus, error) {
	var page struct {
		Values []struct{ State, Description, Key string }
	}
	if err := getJSON(ctx, b.client, b.base(sha)+"?key="+url.QueryEscape(key), b.auth(), &page, true); err != nil {
		return nil, err
	}
	var out []commitStatus
	for _, s := range page.Values {
		out = append(out, commitStatus{State: s.State, Description: s.Description, Context: s.Key})
	}
	return out, nil
}

func (b *bitbucketServerStatuses) create(ctx context.Context, sha string, s commitStatus) error {
	_, err := postJSON(ctx, b.client, http.MethodPost, b.base(sha), map[string]string{
		"key": s.Context, "state": s.State, "url": b.address, "description": s.Description, "name": s.Name,
	}, b.auth())
	return err
}

type azureDevOpsStatuses struct {
	sameKey
	client *Client
	repo   address.Repository
	token  string // a personal access token
}

func (a *azureDevOpsStatuses) states() map[string]string {
	return map[string]string{stateFailure: "failed", statePending: "pending", stateSuccess: "succeeded"}
}
func (a *azureDevOpsStatuses) descriptionLimit() int { return 255 }
func (a *azureDevOpsStatuses) contextLimit() int     { return 255 }

func (a *azureDevOpsStatuses) auth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+a.token))
}

func (a *azureDevOpsStatuses) base(sha string) string {
	return a.repo.APIBase + "/" + url.PathEscape(a.repo.Project) + "/_apis/git/repositories/" + url.PathEscape(a.repo.Name) + "/commits/" + sha + "/statuses"
}

const azureDevOpsGenre = "fluxcd"

func (a *azureDevOpsStatuses) list(ctx context.Context, sha, _ string) ([]commitStatus, error) {
	var page struct {
		Value []struct {
			State, Description string
			Context            struct{ Name, Genre string }
		}
	}
	if err := getJSON(ctx, a.client, a.base(sha)+"?api-version=7.1", a.auth(), &page, false); err != nil {
		return nil, err
	}
	var out []commitStatus
	for _, s := range page.Value {
		if s.Context.Genre == azureDevOpsGenre {
			out = append(out, commitStatus{State: s.State, Description: s.Description, Context: s.Context.Name})
		}
	}
	return out, nil
}

func (a *azureDevOpsStatuses) create(ctx context.Context, sha string, s commitStatus) error {
	_, err := postJSON(ctx, a.client, http.MethodPost, a.base(sha)+"?api-version=7.1", map[string]any{
		"state": s.State, "description": s.Description,
		"context": map[string]string{"name": s.Context, "genre": azureDevOpsGenre},
	}, a.auth())
	return err
}
