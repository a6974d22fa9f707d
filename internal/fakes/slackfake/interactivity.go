package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Response is what an app posted to an interactivity request's response_url.
type Response struct {
	Text            string
	Ephemeral       bool
	ReplaceOriginal bool
}

// AddGroup makes a user group with these members, for usergroups.users.list.
func (f *Fake) AddGroup(id string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = members
}

// Responses are what was posted to response URLs, oldest first.
func (f *Fake) Responses() []Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Response(nil), f.responses...)
}

func (f *Fake) response(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Text            string `json:"text"`
		ResponseType    string `json:"response_type"`
		ReplaceOriginal bool   `json:"replace_original"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(b, &m) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.responses = append(f.responses, Response{Text: m.Text, Ephemeral: m.ResponseType == "ephemeral", ReplaceOriginal: m.ReplaceOriginal})
	f.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

// WithButton is the newest message that has a button with this action_id.
func (f *Fake) WithButton(actionID string) (Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.messages) - 1; i >= 0; i-- {
		if strings.Contains(string(f.messages[i].Blocks), `"`+actionID+`"`) {
			return f.messages[i], true
		}
	}
	return Message{}, false
}

// Shown is the message's blocks as Slack shows them: JSON's escapes of < > & undone,
// so a test can look for "<@U0ALICE>".
func (m Message) Shown() string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(m.Blocks))
}

// Click is a person clicking a button of a posted message.
type Click struct {
	User     string // the clicker's Slack user ID
	Channel  string // the message's channel ID
	TS       string // the message's timestamp
	ActionID string // the button's action_id
	// Item, when set, picks among several such buttons (a digest's) the one whose value
	// begins with it.
	Item string
	// At is when Slack signs the request; zero: now. An old At makes a stale request.
	At time.Time
}

// Request is the interactivity request Slack sends for a click, signed with the app's
// signing secret: "v0=" and the hex HMAC-SHA256 of "v0:timestamp:body". The button's
// value is read from the message, so the click is on what was posted. GetBody is set:
// the same request can be sent again (a replay).
func (f *Fake) Request(target, signingSecret string, c Click) (*http.Request, error) {
	f.mu.Lock()
	var msg *Message
	for i := range f.messages {
		if f.messages[i].Channel == c.Channel && f.messages[i].TS == c.TS {
			m := f.messages[i]
			msg = &m
		}
	}
	f.seq++
	responseURL := fmt.Sprintf("%s/response/%d", f.srv.URL, f.seq)
	f.mu.Unlock()
	if msg == nil {
		return nil, fmt.Errorf("no message %s in %s", c.TS, c.Channel)
	}
	value, blockID, err := buttonValue(msg.Blocks, c.ActionID, c.Item)
	if err != nil {
		return nil, err
	}
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": c.User, "username": c.User, "team_id": "T0FAKE"},
		"api_app_id":   "A0FAKE",
		"team":         map[string]any{"id": "T0FAKE", "domain": "fake"},
		"container":    map[string]any{"type": "message", "message_ts": msg.TS, "channel_id": msg.Channel, "is_ephemeral": false},
		"channel":      map[string]any{"id": msg.Channel},
		"message":      map[string]any{"type": "message", "ts": msg.TS, "text": msg.Text, "bot_id": msg.BotID, "blocks": msg.Blocks},
		"response_url": responseURL,
		"trigger_id":   "trigger-" + strconv.Itoa(f.seq),
		"actions": []map[string]any{{"type": "button", "action_id": c.ActionID, "block_id": blockID, "value": value,
			"action_ts": strconv.FormatInt(time.Now().Unix(), 10) + ".000100"}},
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	body := []byte(url.Values{"payload": {string(p)}}.Encode())
	at := c.At
	if at.IsZero() {
		at = time.Now()
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req, nil
}

// buttonValue finds a button by its action_id in a message's blocks.
func buttonValue(blocks json.RawMessage, actionID, item string) (value, blockID string, err error) {
	var bs []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &bs); err != nil {
		return "", "", fmt.Errorf("the message's blocks: %w", err)
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.Type == "button" && e.ActionID == actionID && strings.HasPrefix(e.Value, item) {
				return e.Value, b.BlockID, nil
			}
		}
	}
	return "", "", fmt.Errorf("the message has no %s button", actionID)
}
