package address

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Repository is a Git repository named by a commit status or githubdispatch
// Provider's address.
type Repository struct {
	// Host is scheme://host[:port] of the address.
	Host string
	// Path is the repository path on the host, without a leading '/' or a
	// trailing '.git': owner/repo, group/subgroup/project,
	// org/project/_git/repo, PROJECT/repo.
	Path string
	// Owner and Name split an owner/repo path (GitHub, Gitea, Bitbucket,
	// Bitbucket Server's project key and slug).
	Owner, Name string
	// Organization and Project are Azure DevOps'.
	Organization, Project string
	// APIBase is where the service's API is: https://api.github.com,
	// <host>/api/v3 (GitHub Enterprise), <host>/api/v4 (GitLab),
	// <host>/api/v1 (Gitea), https://api.bitbucket.org/2.0 (or another
	// host as a Bitbucket-compatible base), <host><context>/rest/api/latest
	// (Bitbucket Server), <host>/<organization> (Azure DevOps).
	APIBase string
}

// Repository types.
const (
	GitHub          = "github"
	GitHubDispatch  = "githubdispatch"
	GitLab          = "gitlab"
	Gitea           = "gitea"
	Bitbucket       = "bitbucket"
	BitbucketServer = "bitbucketserver"
	AzureDevOps     = "azuredevops"
)

// NamesRepository tells whether a Provider type's address is a repository.
func NamesRepository(providerType string) bool {
	switch providerType {
	case GitHub, GitHubDispatch, GitLab, Gitea, Bitbucket, BitbucketServer, AzureDevOps:
		return true
	}
	return false
}

var scpLike = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):([^/].*)$`)

// splitGitURL accepts https://host/path, http://host/path,
// ssh://git@host/path and git@host:path, and returns the https (or http)
// host and the path without slashes around it and without '.git'.
func splitGitURL(s string) (host, path string, err error) {
	if m := scpLike.FindStringSubmatch(s); m != nil && !strings.Contains(s, "://") {
		return "https://" + m[2], cleanPath(m[3]), nil
	}
	u, perr := url.Parse(s)
	if perr != nil {
		return "", "", errors.New("it is not a valid repository URL")
	}
	switch u.Scheme {
	case "https", "http":
	case "ssh":
		u.Scheme = "https"
		u.Host = u.Hostname() // the SSH port means nothing over https
	default:
		return "", "", errors.New("it must be an https, http or ssh repository URL")
	}
	if u.Hostname() == "" {
		return "", "", errors.New("it must name a host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", errors.New("a repository URL takes no query or fragment")
	}
	return u.Scheme + "://" + u.Host, cleanPath(u.Path), nil
}

func cleanPath(p string) string {
	return strings.TrimSuffix(strings.Trim(p, "/"), ".git")
}

var segment = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)

func segments(path string, kind string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("it names no %s", kind)
	}
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if !segment.MatchString(p) || p == "." || p == ".." {
			return nil, fmt.Errorf("its path holds a segment that is not valid in a %s name", kind)
		}
	}
	return parts, nil
}

// ParseRepository parses the address of a Provider of a repository type.
func ParseRepository(providerType, address string) (Repository, error) {
	if providerType == BitbucketServer {
		return parseBitbucketServer(address)
	}
	host, path, err := splitGitURL(address)
	if err != nil {
		return Repository{}, err
	}
	r := Repository{Host: host, Path: path}
	switch providerType {
	case GitHub, GitHubDispatch, Gitea, Bitbucket:
		parts, err := segments(path, "repository")
		if err != nil {
			return Repository{}, err
		}
		if len(parts) != 2 {
			return Repository{}, errors.New("it must name a repository as <host>/<owner>/<repository>")
		}
		r.Owner, r.Name = parts[0], parts[1]
		switch {
		case providerType == Gitea:
			r.APIBase = host + "/api/v1"
		case providerType == Bitbucket && strings.EqualFold(hostname(host), "bitbucket.org"):
			r.APIBase = "https://api.bitbucket.org/2.0"
		case providerType == Bitbucket:
			r.APIBase = host
		case strings.EqualFold(hostname(host), "github.com"):
			r.APIBase = "https://api.github.com"
		default:
			r.APIBase = host + "/api/v3"
		}
	case GitLab:
		parts, err := segments(path, "project")
		if err != nil {
			return Repository{}, err
		}
		if len(parts) == 1 && strings.Trim(parts[0], "0123456789") != "" {
			return Repository{}, errors.New("it must name a project as <host>/<group>[/<subgroup>...]/<project> or <host>/<numeric project ID>")
		}
		r.APIBase = host + "/api/v4"
	case AzureDevOps:
		parts, err := segments(path, "repository")
		if err != nil {
			return Repository{}, err
		}
		if len(parts) != 4 || parts[2] != "_git" {
			return Repository{}, errors.New("it must name a repository as <host>/<organization>/<project>/_git/<repository>")
		}
		r.Organization, r.Project, r.Name = parts[0], parts[1], parts[3]
		r.APIBase = host + "/" + parts[0]
	default:
		return Repository{}, fmt.Errorf("type %q does not name a repository", providerType)
	}
	return r, nil
}

func hostname(host string) string {
	u, err := url.Parse(host)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// parseBitbucketServer parses https://<host>[/<context>]/scm/<PROJECT>/<repo>[.git].
func parseBitbucketServer(address string) (Repository, error) {
	u, err := ParseHTTPURL(address)
	if err != nil {
		return Repository{}, err
	}
	i := strings.LastIndex(u.Path, "/scm/")
	if i < 0 {
		return Repository{}, errors.New("it must name a repository as <host>[/<context>]/scm/<project>/<repository>")
	}
	ctxPath := strings.TrimSuffix(u.Path[:i], "/")
	path := cleanPath(u.Path[i+len("/scm/"):])
	parts, err := segments(path, "repository")
	if err != nil {
		return Repository{}, err
	}
	if len(parts) != 2 {
		return Repository{}, errors.New("it must name a repository as <host>[/<context>]/scm/<project>/<repository>")
	}
	host := u.Scheme + "://" + u.Host
	return Repository{
		Host: host, Path: path, Owner: parts[0], Name: parts[1],
		APIBase: host + ctxPath + "/rest/api/latest",
	}, nil
}
