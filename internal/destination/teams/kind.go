package teams

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tabhook/tabhook/internal/destination"
)

// Kind registers the teams destination type:
//
//	ops-teams: {type: teams, url-file: /etc/tabhook/credentials/teams-url}
func Kind() destination.Kind {
	return destination.Kind{
		Type: "teams",
		Settings: []destination.Setting{
			{Key: "url", File: "url-file", What: "the Teams workflow URL (it carries its signature)", Secret: true, Required: true},
		},
		Address: "url",
		Check: func(v map[string]string) error {
			if err := destination.CheckURL(v["url"]); err != nil {
				return fmt.Errorf("url (or url-file): %w", err)
			}
			return nil
		},
		Warning: func(v map[string]string) string { return retired(v["url"]) },
		New: func(c destination.Config, hc *http.Client) (destination.Sender, error) {
			return New(c.Name, c.Value("url"), hc), nil
		},
	}
}

// retired warns of a URL of the Office 365 connectors, which Microsoft has retired.
func retired(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if (host == "outlook.office.com" || strings.HasSuffix(host, ".webhook.office.com") || host == "outlook.office365.com") && strings.Contains(u.Path, "/webhookb2/") {
		return "this Teams URL is an Office 365 connector's (…/webhookb2/…), which Microsoft has retired: its messages may stop at any time. In Teams, create a Workflows webhook (\"When a Teams webhook request is received\") and use its URL"
	}
	return ""
}
