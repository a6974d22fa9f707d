package pagerduty

import (
	"fmt"
	"net/http"

	"github.com/tabhook/tabhook/internal/destination"
)

// DefaultAPIURL is the public Events API v2 endpoint's host.
const DefaultAPIURL = "https://events.pagerduty.com"

// Kind registers the pagerduty destination type. It takes refresh outcomes only: a
// route sending it anything else is refused at start-up.
//
//	oncall: {type: pagerduty, routing-key-file: /etc/tabhook/credentials/pd-key}
func Kind() destination.Kind {
	return destination.Kind{
		Type: "pagerduty",
		Settings: []destination.Setting{
			{Key: "routing-key", File: "routing-key-file", What: "the PagerDuty integration's routing key", Secret: true, Required: true},
			{Key: "api-url", What: "the Events API host", Default: DefaultAPIURL},
		},
		Address: "api-url",
		Check: func(v map[string]string) error {
			if err := destination.CheckURL(v["api-url"]); err != nil {
				return fmt.Errorf("api-url: %w", err)
			}
			if len(v["routing-key"]) != 32 {
				return fmt.Errorf("routing-key: not a PagerDuty routing key (32 characters, from the service's Events API v2 integration)")
			}
			return nil
		},
		Takes:     Takes,
		TakesWhat: "…RefreshFailed (trigger) and …RefreshSucceeded (resolve) events",
		New: func(c destination.Config, hc *http.Client) (destination.Sender, error) {
			return New(c.Name, c.Value("routing-key"), c.Value("api-url"), hc), nil
		},
	}
}
