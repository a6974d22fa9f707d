// Package actions answers Slack's interactivity requests: the buttons of a failed
// refresh's message — run the refresh again, mute the item, acknowledge — clicked in
// Slack. Each request is verified with the Slack app's signing secret, refused when
// stale or replayed, answered at once (Slack waits 3 seconds), and acted on after the
// answer by someone actions.allow names; what was done is said on the message.
package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/tableau"
)

// MuteFor is how long Mute holds back an item's alerts.
const MuteFor = 24 * time.Hour

// maxBody is the largest interactivity request read: a message's blocks come with it.
const maxBody = 256 << 10

// maxWorking bounds the actions under way at once; a click beyond is told to retry.
const maxWorking = 8

// validAllow: a Slack user (U…, W… on Enterprise Grid) or user group (S…) ID.
var validAllow = regexp.MustCompile(`^[UWS][A-Z0-9]{2,}$`)

// AllowOwner in actions.allow lets an item's owner act on its messages: the owner's
// e-mail in Tableau is looked up in Slack (users.lookupByEmail) and compared with the
// clicker.
const AllowOwner = "owner"

// CheckAllow refuses an actions.allow list that would let nobody act, or holds
// something that is not a Slack ID (a name or an e-mail would never match).
func CheckAllow(allow []string) error {
	if len(allow) == 0 {
		return errors.New("actions.allow is empty: list the Slack user IDs (U…) and user group IDs (S…) who may act from messages")
	}
	for _, a := range allow {
		if a != AllowOwner && !validAllow.MatchString(a) {
			return fmt.Errorf("actions.allow: %q is not a Slack user ID (U…), a user group ID (S…) or %q; find a user's ID in their Slack profile (⋮ → Copy member ID)", a, AllowOwner)
		}
	}
	return nil
}

// Slack is what acting needs of Slack's Web API: saying on the message what was done.
type Slack interface {
	Update(ctx context.Context, ch, ts string, m render.Message) error
}

// Owners finds who owns an item, for actions.allow's "owner": the owner's e-mail in
// Tableau, and the Slack user with that e-mail.
type Owners interface {
	OwnerEmail(ctx context.Context, site, kind, id string) (string, error)
	UserByEmail(ctx context.Context, email string) (string, error)
}

// Groups lists a Slack user group's members, for actions.allow's groups.
type Groups interface {
	GroupMembers(ctx context.Context, group string) ([]string, error)
}

// Tableau is what acting needs of Tableau.
type Tableau interface {
	RefreshNow(ctx context.Context, kind, id string) (string, error)
}

// Done is one action, as the log, the event line and the metric tell it.
type Done struct {
	User   string      // Slack user ID
	Action string      // refresh, mute, unmute, acknowledge
	Item   render.Item // what it acted on
	Result string      // requested, already_queued, muted, unmuted, acknowledged, denied, failed
	Detail string
}

// Config is a Handler's settings.
type Config struct {
	SigningSecret string
	Allow         []string // Slack user and user group IDs (CheckAllow)
	Store         store.Store
	Slack         Slack
	Groups        Groups // nil: only user IDs in Allow can match
	Owners        Owners // nil: "owner" in Allow matches no one
	// Tableau is the Tableau of an item's site (by its LUID): nil for a site this
	// relay does not serve (or has not signed in to yet) — a button of another site's
	// message is refused.
	Tableau func(site string) Tableau
	// Acknowledge acknowledges an item's incident in PagerDuty; it reports false when
	// no PagerDuty destination is configured. Nil: none.
	Acknowledge func(ctx context.Context, it render.Item) (bool, error)
	OnDone      func(Done)
	Logger      *slog.Logger
	HTTP        *http.Client // for response_url; nil: a 10-s client
	Now         func() time.Time
}

// Handler serves Slack's interactivity requests.
type Handler struct {
	cfg     Config
	ctx     context.Context // the relay's: work after the answer ends with it
	work    chan struct{}
	wg      sync.WaitGroup
	groupMu sync.Mutex
	groups  map[string]groupEntry
	msgLock [64]sync.Mutex // one update of a message at a time (striped)
}

type groupEntry struct {
	members []string
	at      time.Time
}

// groupTTL: user groups' members are asked for again after this long.
const groupTTL = 5 * time.Minute

// New builds a handler; work started by requests ends with ctx.
func New(ctx context.Context, cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Handler{cfg: cfg, ctx: ctx, work: make(chan struct{}, maxWorking), groups: map[string]groupEntry{}}
}

// Wait waits for the actions under way.
func (h *Handler) Wait() { h.wg.Wait() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST Slack's interactivity requests here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := h.verify(r.Header, body); err != nil {
		var refused *refusal
		if !errors.As(err, &refused) {
			// The store could not say whether the request was seen before: not done,
			// and not called forged either.
			h.cfg.Logger.Error("Slack interactivity request not taken: the store did not answer", "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		h.cfg.Logger.Warn("Slack interactivity request refused", "why", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	cb, act, ok := parse(body)
	if !ok {
		w.WriteHeader(http.StatusOK) // not a button of ours: nothing to do
		return
	}
	select {
	case h.work <- struct{}{}:
	default:
		w.WriteHeader(http.StatusOK)
		h.wg.Go(func() { h.respond(cb.ResponseURL, "tabhook is busy with other actions: click again in a moment.") })
		return
	}
	// Slack wants the answer within 3 seconds; the work follows it.
	w.WriteHeader(http.StatusOK)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { <-h.work }()
		ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
		defer cancel()
		h.act(ctx, cb, act)
	}()
}

// verify checks the request's signature (HMAC-SHA256 of "v0:timestamp:body" under the
// signing secret, compared in constant time by slack-go), that it is at most 5 minutes
// old, and that it was not seen before: the signature is remembered in the store, so a
// replay to this or another replica is refused.
func (h *Handler) verify(header http.Header, body []byte) error {
	ts := header.Get("X-Slack-Request-Timestamp")
	sig := header.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return &refusal{"not signed"}
	}
	sv, err := slack.NewSecretsVerifier(header, h.cfg.SigningSecret)
	if err != nil {
		if errors.Is(err, slack.ErrExpiredTimestamp) {
			return &refusal{"stale: more than 5 minutes old"}
		}
		return &refusal{"unreadable signature headers"}
	}
	if _, err := sv.Write(body); err != nil {
		return &refusal{err.Error()}
	}
	if err := sv.Ensure(); err != nil {
		return &refusal{"the signature does not match (check --slack-signing-secret-file)"}
	}
	_, err = h.cfg.Store.UpdateItem("slack-request/"+sig, func(old []byte) ([]byte, error) {
		if old != nil {
			return nil, &refusal{"replayed: this request was already taken"}
		}
		return []byte(ts), nil
	})
	return err
}

// refusal is a request refused for what it is (unsigned, forged, stale, replayed):
// 401, as opposed to a store that could not answer.
type refusal struct{ why string }

func (r *refusal) Error() string { return r.why }

// parse reads a block_actions request for one of tabhook's buttons.
func parse(body []byte) (slack.InteractionCallback, *slack.BlockAction, bool) {
	var cb slack.InteractionCallback
	form, err := url.ParseQuery(string(body))
	if err != nil || json.Unmarshal([]byte(form.Get("payload")), &cb) != nil || cb.Type != slack.InteractionTypeBlockActions {
		return cb, nil, false
	}
	for _, a := range cb.ActionCallback.BlockActions {
		switch a.ActionID {
		case render.ActionRefresh, render.ActionMute, render.ActionUnmute, render.ActionAck:
			return cb, a, true
		}
	}
	return cb, nil, false
}

// act does what was clicked, once allowed, and says so on the message.
func (h *Handler) act(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	done := Done{User: cb.User.ID, Action: actionName(a.ActionID)}
	defer func() { h.report(done) }()
	it, err := render.ParseItem(a.Value)
	if err != nil {
		done.Result, done.Detail = "failed", err.Error()
		return
	}
	done.Item = it
	tb := h.tableau(it.Site)
	if tb == nil {
		done.Result, done.Detail = "failed", "the message is about another site"
		h.respond(cb.ResponseURL, "This message is about another Tableau site than the one this relay serves: nothing was done.")
		return
	}
	if ok, err := h.allowed(ctx, cb.User.ID, it); !ok {
		done.Result = "denied"
		if err != nil {
			done.Detail = err.Error()
		}
		h.respond(cb.ResponseURL, fmt.Sprintf("You are not allowed to %s from tabhook's messages: ask whoever runs tabhook to add your Slack user ID (%s) or one of your user groups to actions.allow.", verb(a.ActionID), cb.User.ID))
		return
	}
	var note string
	switch a.ActionID {
	case render.ActionRefresh:
		note = h.refresh(ctx, cb, it, &done)
	case render.ActionMute:
		note = h.mute(it, cb.User.ID, &done)
	case render.ActionUnmute:
		note = h.unmute(it, cb.User.ID, &done)
	case render.ActionAck:
		note = h.acknowledge(ctx, cb, it, &done)
	}
	if note != "" {
		h.note(ctx, cb, it, a.Value, note, a.ActionID)
	}
}

func actionName(id string) string {
	switch id {
	case render.ActionRefresh:
		return "refresh"
	case render.ActionMute:
		return "mute"
	case render.ActionUnmute:
		return "unmute"
	}
	return "acknowledge"
}

func verb(id string) string {
	switch id {
	case render.ActionRefresh:
		return "run refreshes"
	case render.ActionMute, render.ActionUnmute:
		return "mute items"
	}
	return "acknowledge alerts"
}

func (h *Handler) stamp() string { return h.cfg.Now().UTC().Format("2006-01-02 15:04 MST") }

func (h *Handler) refresh(ctx context.Context, cb slack.InteractionCallback, it render.Item, done *Done) string {
	job, err := h.tableau(it.Site).RefreshNow(ctx, it.Kind, it.ID)
	switch {
	case err == nil:
		done.Result, done.Detail = "requested", "job "+job
		return fmt.Sprintf(":arrows_counterclockwise: Refresh requested by <@%s> at %s", cb.User.ID, h.stamp())
	case tableau.IsAlreadyQueued(err):
		done.Result = "already_queued"
		return fmt.Sprintf(":hourglass_flowing_sand: A refresh is already queued in Tableau (asked again by <@%s> at %s)", cb.User.ID, h.stamp())
	default:
		done.Result, done.Detail = "failed", err.Error()
		h.respond(cb.ResponseURL, "Tableau did not start the refresh: "+err.Error())
		return ""
	}
}

func (h *Handler) acknowledge(ctx context.Context, cb slack.InteractionCallback, it render.Item, done *Done) string {
	note := fmt.Sprintf(":eyes: Acknowledged by <@%s> at %s", cb.User.ID, h.stamp())
	done.Result = "acknowledged"
	if h.cfg.Acknowledge == nil {
		return note
	}
	sent, err := h.cfg.Acknowledge(ctx, it)
	switch {
	case err != nil:
		done.Detail = "PagerDuty: " + err.Error()
		h.respond(cb.ResponseURL, "Marked acknowledged here, but PagerDuty did not take the acknowledgement: "+err.Error())
	case sent:
		note += " (PagerDuty incident acknowledged)"
	}
	return note
}

// note says on the message what was done (and swaps Mute and Unmute), by chat.update:
// one update of a message at a time in this process.
func (h *Handler) note(ctx context.Context, cb slack.InteractionCallback, it render.Item, value, note, actionID string) {
	ch, ts := cb.Container.ChannelID, cb.Container.MessageTs
	if ch == "" {
		ch = cb.Channel.ID
	}
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	sum := fnv.New32a()
	_, _ = sum.Write([]byte(ch + ts))
	lock := &h.msgLock[sum.Sum32()%uint32(len(h.msgLock))]
	lock.Lock()
	defer lock.Unlock()
	blocks := slices.Clone(cb.Message.Blocks.BlockSet)
	if render.Items(blocks) > 1 && it.Name != "" {
		note += " — " + render.Escape(it.Name) // a digest: say which item
	}
	blocks = render.AddNote(blocks, note)
	switch actionID {
	case render.ActionMute:
		render.SwapMute(blocks, value, true)
	case render.ActionUnmute:
		render.SwapMute(blocks, value, false)
	}
	if err := h.cfg.Slack.Update(ctx, ch, ts, render.Message{Text: cb.Message.Text, Blocks: blocks}); err != nil {
		h.cfg.Logger.Warn("could not say on the message what was done", "channel", ch, "ts", ts, "err", err)
	}
}

// allowed: the user is listed, a member of a listed user group, or — with "owner"
// listed — the item's owner.
func (h *Handler) allowed(ctx context.Context, user string, it render.Item) (bool, error) {
	if slices.Contains(h.cfg.Allow, user) {
		return true, nil
	}
	var errs []error
	if slices.Contains(h.cfg.Allow, AllowOwner) {
		owner, err := h.owner(ctx, it)
		if err != nil {
			errs = append(errs, fmt.Errorf("the item's owner: %w", err))
		} else if owner == user {
			return true, nil
		}
	}
	for _, g := range h.cfg.Allow {
		if g == "" || g[0] != 'S' {
			continue
		}
		members, err := h.members(ctx, g)
		if err != nil {
			errs = append(errs, fmt.Errorf("user group %s: %w", g, err))
			continue
		}
		if slices.Contains(members, user) {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

// owner is the Slack user who owns the item in Tableau ("" when not found).
func (h *Handler) owner(ctx context.Context, it render.Item) (string, error) {
	if h.cfg.Owners == nil {
		return "", errors.New("owners cannot be looked up here")
	}
	email, err := h.cfg.Owners.OwnerEmail(ctx, it.Site, it.Kind, it.ID)
	if err != nil || email == "" {
		return "", err
	}
	return h.cfg.Owners.UserByEmail(ctx, email)
}

func (h *Handler) members(ctx context.Context, group string) ([]string, error) {
	h.groupMu.Lock()
	e, ok := h.groups[group]
	h.groupMu.Unlock()
	if ok && h.cfg.Now().Sub(e.at) < groupTTL {
		return e.members, nil
	}
	if h.cfg.Groups == nil {
		return nil, errors.New("user groups cannot be listed here")
	}
	m, err := h.cfg.Groups.GroupMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	h.groupMu.Lock()
	h.groups[group] = groupEntry{members: m, at: h.cfg.Now()}
	h.groupMu.Unlock()
	return m, nil
}

// respond tells the clicker alone (an ephemeral message through the request's
// response_url), leaving the message as it is.
func (h *Handler) respond(responseURL, text string) {
	if responseURL == "" {
		return
	}
	body, _ := json.Marshal(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text})
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.cfg.HTTP.Do(req)
	if err != nil {
		h.cfg.Logger.Warn("could not answer the clicker", "err", err)
		return
	}
	_ = resp.Body.Close()
}

func (h *Handler) report(d Done) {
	h.cfg.Logger.Info("action from Slack", "user", d.User, "action", d.Action, "item", d.Item.Value(), "result", d.Result, "detail", d.Detail)
	if h.cfg.OnDone != nil {
		h.cfg.OnDone(d)
	}
}

// tableau is the Tableau of the site; nil when not served.
func (h *Handler) tableau(site string) Tableau {
	if h.cfg.Tableau == nil || site == "" {
		return nil
	}
	return h.cfg.Tableau(site)
}

// OneSite serves the one site whose LUID id tells ("" while unknown) with t.
func OneSite(id func() string, t Tableau) func(site string) Tableau {
	return func(site string) Tableau {
		if site != id() {
			return nil
		}
		return t
	}
}
