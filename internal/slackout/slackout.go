// Package slackout posts rendered events to Slack through slack-go, paced per channel,
// and classifies every failure as one to retry (and when) or one to give up on.
package slackout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/render"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// metadataType marks tabhook's messages so a lost answer can be recovered from history.
const metadataType = "tabhook_event"

// Options configure a Client.
type Options struct {
	Token      string
	APIURL     string // must end in "/"; default Slack's
	HTTPClient *http.Client
	// PerChannel is the pace of posts to one channel (default 1/s, Slack's guidance)
	// and Burst the short burst tolerated (default 3).
	PerChannel rate.Limit
	Burst      int
	// OnError, when set, hears Slack's error code for every failed call (metrics).
	OnError func(code string)
	// Pacer, when set, keeps the per-channel pace across processes (replicas sharing
	// a store) instead of in this one: it says how long to wait before the next post.
	Pacer Pacer
}

// Pacer hands out a channel's turns to post, one every interval, among all the
// processes that share it.
type Pacer interface {
	Turn(ctx context.Context, channel string, interval time.Duration) (wait time.Duration, err error)
}

// Client talks to one workspace as one bot.
type Client struct {
	onError func(code string)
	opts    Options
	pacer   Pacer
	api     *slack.Client // replaced by SetToken; read through c.slack()
	pace    rate.Limit
	burst   int

	mu       sync.Mutex
	ids      map[string]string // channel name → ID
	limiters map[string]*rate.Limiter
	blocked  map[string]time.Time     // channel → no posts before (after a 429)
	turns    map[string]chan struct{} // channel → one call in flight at a time
	self     *Auth                    // who this token posts as, once auth.test answered
	users    *users
}

// New builds a client; it makes no call.
func New(o Options) *Client {
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if o.HTTPClient == nil {
		// slack-go's default client has no timeout: a hung connection would hold a worker.
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.PerChannel == 0 {
		o.PerChannel = 1
	}
	if o.Burst == 0 {
		o.Burst = 3
	}
	return &Client{
		opts:     o,
		pacer:    o.Pacer,
		api:      slack.New(o.Token, slack.OptionAPIURL(o.APIURL), slack.OptionHTTPClient(o.HTTPClient)),
		pace:     o.PerChannel,
		onError:  o.OnError,
		burst:    o.Burst,
		ids:      map[string]string{},
		limiters: map[string]*rate.Limiter{},
		blocked:  map[string]time.Time{},
		turns:    map[string]chan struct{}{},
		users:    newUsers(),
	}
}

// SetPacer makes the per-channel pace shared through p from now on.
func (c *Client) SetPacer(p Pacer) {
	c.mu.Lock()
	c.pacer = p
	c.mu.Unlock()
}

// SetToken makes the following calls with another token (a rotated one, re-read on
// reload). Who the bot is will be asked again.
func (c *Client) SetToken(token string) {
	api := slack.New(token, slack.OptionAPIURL(c.opts.APIURL), slack.OptionHTTPClient(c.opts.HTTPClient))
	c.mu.Lock()
	c.api, c.self = api, nil
	c.mu.Unlock()
}

func (c *Client) slack() *slack.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api
}

// Auth is who the token belongs to.
type Auth struct {
	Team, User, UserID, BotID string
	Scopes                    []string
}

// AuthTest checks the token and reads its scopes.
func (c *Client) AuthTest(ctx context.Context) (Auth, error) {
	r, err := c.slack().AuthTestContext(ctx)
	if err != nil {
		return Auth{}, classify("auth.test", err)
	}
	a := Auth{Team: r.Team, User: r.User, UserID: r.UserID, BotID: r.BotID}
	for _, s := range strings.Split(r.Header.Get("X-OAuth-Scopes"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			a.Scopes = append(a.Scopes, s)
		}
	}
	c.mu.Lock()
	c.self = &a
	c.mu.Unlock()
	return a, nil
}

// whoami is the bot this token posts as: auth.test's answer, asked once.
func (c *Client) whoami(ctx context.Context) (Auth, error) {
	c.mu.Lock()
	self := c.self
	c.mu.Unlock()
	if self != nil {
		return *self, nil
	}
	return c.AuthTest(ctx)
}

var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// ChannelID resolves "#name", "name" or an ID to an ID. Names are looked up once via
// conversations.list (all pages) and remembered.
func (c *Client) ChannelID(ctx context.Context, channel string) (string, error) {
	if channelID.MatchString(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	c.mu.Lock()
	id, ok := c.ids[name]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	params := &slack.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, Limit: 200, ExcludeArchived: true}
	for {
		chans, cursor, err := c.slack().GetConversationsContext(ctx, params)
		if err != nil {
			return "", classify("resolve channel "+channel, err)
		}
		c.mu.Lock()
		for _, ch := range chans {
			c.ids[ch.Name] = ch.ID
		}
		id, ok = c.ids[name]
		c.mu.Unlock()
		if ok {
			return id, nil
		}
		if cursor == "" {
			return "", &Error{Op: "resolve channel " + channel, Code: "channel_not_found", Permanent: true,
				Err: fmt.Errorf("no channel named %q is visible to the bot (invite it, or give the channel ID)", name)}
		}
		params.Cursor = cursor
	}
}

// sharedTurn waits for the channel's next turn handed out by the shared pacer. A pacer
// that cannot be asked falls back to this process's own pace.
func (c *Client) sharedTurn(ctx context.Context, ch string) error {
	interval := time.Duration(float64(time.Second) / float64(c.pace))
	c.mu.Lock()
	p := c.pacer
	c.mu.Unlock()
	wait, err := p.Turn(ctx, ch, interval)
	if err != nil {
		return c.limiter(ch).Wait(ctx)
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) limiter(ch string) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[ch]
	if !ok {
		l = rate.NewLimiter(c.pace, c.burst)
		c.limiters[ch] = l
	}
	return l
}

// take waits for the channel's turn: one call to a channel is in flight at a time, at
// Slack's pace, and none before a Retry-After Slack asked for has passed. Serialising
// per channel is what makes a 429 stop the calls behind it, not only the next one.
// Only messages count against the pace (paced); file uploads have limits of their own.
func (c *Client) take(ctx context.Context, ch string, paced bool) (release func(), err error) {
	c.mu.Lock()
	turn, ok := c.turns[ch]
	if !ok {
		turn = make(chan struct{}, 1)
		c.turns[ch] = turn
	}
	c.mu.Unlock()
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release = func() { <-turn }
	c.mu.Lock()
	until := c.blocked[ch]
	c.mu.Unlock()
	if d := time.Until(until); d > 0 && paced {
		// A message waiting out a Retry-After is handed back rather than held here:
		// the caller puts it off until then, with the channel's other waiting events,
		// so they can go out together as one digest.
		release()
		return nil, &Error{Op: "post message", Code: "held", RetryAfter: d, NoEffect: true,
			Err: fmt.Errorf("Slack asked to wait until %s before posting to this channel", until.Format(time.TimeOnly))}
	}
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	// The pace counts from the end of any Retry-After wait.
	if !paced {
		return release, nil
	}
	c.mu.Lock()
	shared := c.pacer != nil
	c.mu.Unlock()
	if shared {
		if err := c.sharedTurn(ctx, ch); err != nil {
			release()
			return nil, err
		}
		return release, nil
	}
	if err := c.limiter(ch).Wait(ctx); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// IsHeld reports a post handed back because Slack's Retry-After for its channel has
// not passed: nothing was sent; try again at HeldUntil.
func IsHeld(err error) bool { return Code(err) == "held" }

// HeldUntil is when the last Retry-After Slack gave for the channel ends (zero: none).
func (c *Client) HeldUntil(ch string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked[ch]
}

func (c *Client) backOff(ch string, err error) {
	if c.onError != nil {
		c.onError(Code(err))
	}
	var se *Error
	if errors.As(err, &se) && se.RetryAfter > 0 {
		c.mu.Lock()
		if t := time.Now().Add(se.RetryAfter); t.After(c.blocked[ch]) {
			c.blocked[ch] = t
		}
		c.mu.Unlock()
	}
}

// metadataKey holds, in a message's metadata, the identities of the events it stands
// for (payload.Identity: global, never a local sequence number), comma-delimited.
const metadataKey = "tabhook_events"

// Post sends a message and returns its timestamp. The identities of the events it
// stands for (one, or several for a digest) are stored as message metadata so
// FindPosted can recognise the message later. When it fails, NoEffect tells whether
// Slack certainly did not post it.
func (c *Client) Post(ctx context.Context, ch string, m render.Message, identities ...string) (string, error) {
	return c.post(ctx, ch, "", m, identities)
}

// Reply posts a message into a thread, as Post does.
func (c *Client) Reply(ctx context.Context, ch, threadTS string, m render.Message, identities ...string) (string, error) {
	return c.post(ctx, ch, threadTS, m, identities)
}

func (c *Client) post(ctx context.Context, ch, threadTS string, m render.Message, identities []string) (string, error) {
	opts := []slack.MsgOption{
		slack.MsgOptionText(m.Text, false),
		slack.MsgOptionBlocks(m.Blocks...),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{metadataKey: "," + strings.Join(identities, ",") + ","}}),
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	release, err := c.take(ctx, ch, true)
	var held *Error
	if errors.As(err, &held) {
		return "", err
	}
	if err != nil {
		return "", &Error{Op: "post message", Code: "not_sent", NoEffect: true, Err: err}
	}
	defer release()
	_, ts, err := c.slack().PostMessageContext(ctx, ch, opts...)
	if err != nil {
		err = classify("post message", err)
		c.backOff(ch, err)
		return "", err
	}
	return ts, nil
}

// FindPosted looks, among the messages this bot posted to the channel since oldest,
// for one that stands for the event with this identity: for when a post was sent but
// its answer was lost. found is false when there is none.
func (c *Client) FindPosted(ctx context.Context, ch, identity string, oldest time.Time) (ts string, found bool, err error) {
	self, err := c.whoami(ctx)
	if err != nil {
		return "", false, err
	}
	params := &slack.GetConversationHistoryParameters{ChannelID: ch, Oldest: strconv.FormatInt(oldest.Unix(), 10), Limit: 200, IncludeAllMetadata: true}
	for {
		r, err := c.slack().GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", false, classify("read channel history", err)
		}
		for _, m := range r.Messages {
			if isOwn(m, self) && stands(m, identity) {
				return m.Timestamp, true, nil
			}
		}
		if !r.HasMore || r.ResponseMetaData.NextCursor == "" {
			return "", false, nil
		}
		params.Cursor = r.ResponseMetaData.NextCursor
	}
}

// isOwn: the message was posted by this bot (another app could copy the metadata).
func isOwn(m slack.Message, self Auth) bool {
	return (self.BotID != "" && m.BotID == self.BotID) || (self.UserID != "" && m.User == self.UserID)
}

// stands: the message's metadata names the event.
func stands(m slack.Message, identity string) bool {
	if m.Metadata.EventType != metadataType || identity == "" {
		return false
	}
	ids, _ := m.Metadata.EventPayload[metadataKey].(string)
	return strings.Contains(ids, ","+identity+",")
}

// Upload puts a file into a message's thread with the three-step external upload.
func (c *Client) Upload(ctx context.Context, ch, threadTS, filename, title string, data []byte) error {
	release, err := c.take(ctx, ch, false)
	if err != nil {
		return err
	}
	defer release()
	_, err = c.slack().UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(data), FileSize: len(data), Filename: filename, Title: title,
		Channel: ch, ThreadTimestamp: threadTS,
	})
	if err != nil {
		err = classify("upload "+filename, err)
		c.backOff(ch, err)
		return err
	}
	return nil
}

// ChannelInfo is what the bot can see of a channel.
type ChannelInfo struct {
	ID, Name  string
	IsPrivate bool
	IsMember  bool
}

// Channel finds a channel by "#name", name or ID among those the bot can see.
func (c *Client) Channel(ctx context.Context, channel string) (ChannelInfo, error) {
	name := strings.TrimPrefix(channel, "#")
	params := &slack.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, Limit: 200, ExcludeArchived: true}
	for {
		chans, cursor, err := c.slack().GetConversationsContext(ctx, params)
		if err != nil {
			return ChannelInfo{}, classify("list channels", err)
		}
		for _, ch := range chans {
			if ch.ID == channel || ch.Name == name {
				return ChannelInfo{ID: ch.ID, Name: ch.Name, IsPrivate: ch.IsPrivate, IsMember: ch.IsMember}, nil
			}
		}
		if cursor == "" {
			return ChannelInfo{}, &Error{Op: "find channel " + channel, Code: "channel_not_found", Permanent: true,
				Err: fmt.Errorf("no channel %q is visible to the bot", channel)}
		}
		params.Cursor = cursor
	}
}
