package notifier

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"unicode"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// SkipError tells the dispatcher that a Provider does not take an event
// (for example a commit status type and an event without a revision): the
// delivery is Skipped, not Failed.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// IsSkip tells whether err is a SkipError.
func IsSkip(err error) bool {
	var s *SkipError
	return errors.As(err, &s)
}

// Commit states, before each service names them its way.
const (
	stateFailure = "failure"
	statePending = "pending"
	stateSuccess = "success"
)

// commitStatus is one status on a commit, in a service's own words.
// Context identifies it (Bitbucket's key); Name is the readable form.
type commitStatus struct {
	State, Description, Context, Name string
}

// statusService is one Git service's commit status API.
type statusService interface {
	// states maps failure, pending and success to the service's names.
	states() map[string]string
	// descriptionLimit is the longest description the service takes.
	descriptionLimit() int
	// contextLimit is the longest context the service takes; a longer one
	// is hashed.
	contextLimit() int
	// key turns a context into what identifies the status on the service.
	key(context string) string
	// list returns the statuses already on the commit.
	list(ctx context.Context, sha string, context string) ([]commitStatus, error)
	// create posts a status on the commit.
	create(ctx context.Context, sha string, s commitStatus) error
}

// CommitStatus marks the commit an event's revision names with a status
// computed from the event, unless the same status is already there.
type CommitStatus struct {
	service statusService
}

var sha1Revision = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Revision finds the commit SHA in the metadata, as Flux writes it under
// commit, originRevision or revision (prefixes stripped): main@sha1:<sha>,
// main/<sha>, sha1:<sha> or a bare sha.
func Revision(metadata map[string]string) (string, bool) {
	for _, key := range []string{"commit", "originRevision", "revision"} {
		rev, ok := metadata[key]
		if !ok {
			continue
		}
		sha := rev
		if i := strings.LastIndex(sha, ":"); i >= 0 {
			sha = sha[i+1:]
		} else if i := strings.LastIndex(sha, "/"); i >= 0 {
			sha = sha[i+1:]
		}
		sha = strings.ToLower(sha)
		if sha1Revision.MatchString(sha) {
			return sha, true
		}
	}
	return "", false
}

// commitState: errors fail, progress is pending, other info succeeds.
func commitState(e Event) string {
	switch {
	case e.Severity == "error":
		return stateFailure
	case strings.Contains(e.Reason, "Progressing"):
		return statePending
	default:
		return stateSuccess
	}
}

// describe turns a CamelCase reason into words: ReconciliationSucceeded
// becomes "reconciliation succeeded".
func describe(reason string) string {
	var words []string
	start := 0
	for i, r := range reason {
		if i > 0 && unicode.IsUpper(r) {
			words = append(words, strings.ToLower(reason[start:i]))
			start = i
		}
	}
	words = append(words, strings.ToLower(reason[start:]))
	return strings.Join(words, " ")
}

// statusContext names the Flux object the status is about: kind/name, and
// the Alert's summary (or cluster metadata) when there is one.
func statusContext(e Event, limit int) string {
	ctx := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	for _, key := range []string{"summary", "cluster"} {
		if v := e.Metadata[key]; v != "" {
			ctx += "/" + v
			break
		}
	}
	if len(ctx) > limit {
		sum := sha1.Sum([]byte(ctx))
		return hex.EncodeToString(sum[:])[:min(limit, 40)]
	}
	return ctx
}

func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return s[:limit]
}

// Post sends the event.
func (c *CommitStatus) Post(ctx context.Context, e Event) error {
	sha, ok := Revision(e.Metadata)
	if !ok {
		return &SkipError{Reason: "the event names no commit: no 40-character SHA in its commit, originRevision or revision metadata"}
	}
	name := statusContext(e, c.service.contextLimit())
	status := commitStatus{
		State:       c.service.states()[commitState(e)],
		Description: truncate(describe(e.Reason), c.service.descriptionLimit()),
		Context:     c.service.key(name),
		Name:        name,
	}
	existing, err := c.service.list(ctx, sha, status.Context)
	if err != nil {
		return err
	}
	for _, s := range existing {
		if s.Context == status.Context {
			if s.State == status.State && s.Description == status.Description {
				return nil // already there
			}
			break // the newest status of this context differs
		}
	}
	return c.service.create(ctx, sha, status)
}

func newCommitStatus(s *settings.Settings, client *Client) (Notifier, error) {
	repo, err := address.ParseRepository(s.Type, s.Address)
	if err != nil {
		return nil, permanent("invalid repository address: %v", err)
	}
	var svc statusService
	switch s.Type {
	case address.GitHub:
		svc = &githubStatuses{client: client, repo: repo, token: s.Token}
	case address.GitLab:
		svc = &gitlabStatuses{client: client, repo: repo, token: s.Token}
	case address.Gitea:
		svc = &giteaStatuses{client: client, repo: repo, token: s.Token}
	case address.Bitbucket:
		svc = &bitbucketStatuses{client: client, repo: repo, token: s.Token}
	case address.BitbucketServer:
		svc = &bitbucketServerStatuses{client: client, repo: repo, token: s.Token, username: s.Username, password: s.Password, address: s.Address}
	case address.AzureDevOps:
		svc = &azureDevOpsStatuses{client: client, repo: repo, token: s.Token}
	default:
		return nil, permanent("type %s posts no commit status", s.Type)
	}
	return &CommitStatus{service: svc}, nil
}

// sameKey keeps contexts as they are.
type sameKey struct{}

func (sameKey) key(context string) string { return context }

// hashedKey is Bitbucket's: the hex SHA-1 of the context, 40 characters,
// within its key limit whatever the context.
type hashedKey struct{}

func (hashedKey) key(context string) string {
	sum := sha1.Sum([]byte(context))
	return hex.EncodeToString(sum[:])
}
