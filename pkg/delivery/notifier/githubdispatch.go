package notifier

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// GitHubDispatch creates a repository_dispatch event on the repository of
// the address: event_type {Kind}/{Name}.{Namespace}, client_payload the
// Flux event. GitHub Enterprise addresses use <host>/api/v3.
type GitHubDispatch struct {
	client   *Client
	settings *settings.Settings
}

// Post sends the event.
func (g *GitHubDispatch) Post(ctx context.Context, e Event) error {
	repo, err := address.ParseRepository(address.GitHubDispatch, g.settings.Address)
	if err != nil {
		return permanent("invalid repository address: %v", err)
	}
	body, err := json.Marshal(map[string]any{
		"event_type":     e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name + "." + e.InvolvedObject.Namespace,
		"client_payload": e,
	})
	if err != nil {
		return permanent("encoding the dispatch: %v", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/vnd.github+json")
	header.Set("X-GitHub-Api-Version", "2022-11-28")
	header.Set("Authorization", "Bearer "+g.settings.Token)
	_, err = g.client.Do(ctx, http.MethodPost, repo.APIBase+"/repos/"+repo.Owner+"/"+repo.Name+"/dispatches", body, header)
	return err
}
