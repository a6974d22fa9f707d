// Package slackfake is an in-process Slack Web API for tests and the demo: it records
// every message and file so tests can read them back, hands out upload URLs on its own
// host (as slack-go requires), pages conversations.list, and has switches for rate
// limits, outages and per-channel errors.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Channel is a conversation the fake knows.
type Channel struct {
	ID, Name  string
	IsPrivate bool
	IsMember  bool
	Archived  bool
}

// Message is a posted message.
type Message struct {
	Channel  string // ID
	BotID    string // the bot that posted it
	User     string // the bot's user ID
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	Metadata json.RawMessage
	At       time.Time
	Edits    int // chat.update calls that changed it
}

// File is an uploaded file, complete once shared with files.completeUploadExternal.
type File struct {
	ID, Name, Title string
	Bytes           []byte
	Channel         string
	ThreadTS        string
	Completed       bool
}

// Call is one API call received.
type Call struct {
	Method string
	Status int
	At     time.Time
}

// Fake is the server. Create with New, then Start.
type Fake struct {
	Token  string
	Scopes string // X-OAuth-Scopes of auth.test

	mu         sync.Mutex
	srv        *httptest.Server
	channels   []Channel
	messages   []Message
	files      map[string]*File
	calls      []Call
	seq        int
	outage     bool
	limited    map[string]int // method → 429s still to answer
	retryAfter int
	chanErr    map[string]string // channel ID → error for chat.postMessage
	dropPosts  int               // posts to store but answer with a dropped connection
	pageSize   int
	revoked    bool
	latency    time.Duration
	bots       map[string]Bot       // token → bot, besides Token's
	pace       time.Duration        // a channel takes one post per pace; faster → 429
	lastPost   map[string]time.Time // channel ID → last accepted post
	historyGap time.Duration        // conversations.history answers at most once per gap
	lastRead   time.Time
	users      map[string]string   // e-mail → user ID, for users.lookupByEmail
	groups     map[string][]string // user group ID → members, for usergroups.users.list
	responses  []Response          // what was posted to response URLs
	subs       []chan Message      // Subscribe's channels
}

// permalink answers chat.getPermalink for a message the fake holds.
func (f *Fake) permalink(w http.ResponseWriter, r *http.Request) {
	ch, ts := r.FormValue("channel"), r.FormValue("message_ts")
	for _, m := range f.messages {
		if m.Channel == ch && m.TS == ts {
			reply(w, map[string]any{"ok": true, "channel": ch, "permalink": "https://fake.slack.com/archives/" + ch + "/p" + strings.ReplaceAll(ts, ".", "")})
			return
		}
	}
	fail(w, "message_not_found")
}

// ChannelName is a conversation's name, "" when the fake has no such ID.
func (f *Fake) ChannelName(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.channels {
		if c.ID == id {
			return c.Name
		}
	}
	return ""
}

// Subscribe returns a channel that receives each message posted from now on, for a
// person watching (the sandbox). A subscriber 256 messages behind misses the next ones
// rather than holding up the fake.
func (f *Fake) Subscribe() <-chan Message {
	ch := make(chan Message, 256)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	return ch
}

// Bot is who a token posts as.
type Bot struct{ BotID, UserID string }

// DefaultBot is who Token posts as.
var defaultBot = Bot{BotID: "B0BOT", UserID: "U0BOT"}

// AddToken makes another token valid, posting as bot: another app, or another
// installation, in the same workspace.
func (f *Fake) AddToken(token string, bot Bot) {
	f.mu.Lock()
	f.bots[token] = bot
	f.mu.Unlock()
}

// PaceChannels makes posts to one channel closer than d apart answer 429 with
// Retry-After: 1, as Slack's limit of about one message a second per channel does.
func (f *Fake) PaceChannels(d time.Duration) {
	f.mu.Lock()
	f.pace = d
	f.mu.Unlock()
}

// LimitHistory makes conversations.history answer 429 when called again within d, as
// Slack limits apps outside the Marketplace to about one call a minute.
func (f *Fake) LimitHistory(d time.Duration) {
	f.mu.Lock()
	f.historyGap = d
	f.mu.Unlock()
}

// New builds a fake accepting token, with #general (C0GENERAL) and #alerts
// (C0ALERTS), the bot a member of both.
func New(token string) *Fake {
	return &Fake{
		Token:    token,
		Scopes:   "chat:write,chat:write.public,files:write,channels:read,groups:read,channels:history,groups:history,users:read,users:read.email",
		channels: []Channel{{ID: "C0GENERAL", Name: "general", IsMember: true}, {ID: "C0ALERTS", Name: "alerts", IsMember: true}},
		files:    map[string]*File{},
		limited:  map[string]int{},
		chanErr:  map[string]string{},
		pageSize: 100,
		bots:     map[string]Bot{},
		lastPost: map[string]time.Time{},
		users:    map[string]string{},
		groups:   map[string][]string{},
	}
}

// SetScopes replaces the token's scopes (comma-separated, as X-OAuth-Scopes).
func (f *Fake) SetScopes(scopes string) {
	f.mu.Lock()
	f.Scopes = scopes
	f.mu.Unlock()
}

// AddUser makes users.lookupByEmail find id by email.
func (f *Fake) AddUser(email, id string) {
	f.mu.Lock()
	f.users[strings.ToLower(email)] = id
	f.mu.Unlock()
}

// Start serves the fake on loopback and returns it for chaining.
func (f *Fake) Start() *Fake {
	f.srv = httptest.NewServer(f)
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// APIURL is the URL to give slack-go (OptionAPIURL); it ends in "/".
func (f *Fake) APIURL() string { return f.srv.URL + "/api/" }

// AddChannel adds a conversation.
func (f *Fake) AddChannel(c Channel) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels = append(f.channels, c)
}

// SetPageSize makes conversations.list answer n channels a page.
func (f *Fake) SetPageSize(n int) {
	f.mu.Lock()
	f.pageSize = n
	f.mu.Unlock()
}

// SetLatency delays every answer by d, as a distant Slack would.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = d
	f.mu.Unlock()
}

// SetOutage makes every call answer 503 while on.
func (f *Fake) SetOutage(on bool) {
	f.mu.Lock()
	f.outage = on
	f.mu.Unlock()
}

// RateLimit makes the next n calls of method answer 429 with Retry-After: seconds.
func (f *Fake) RateLimit(method string, n, seconds int) {
	f.mu.Lock()
	f.limited[method] = n
	f.retryAfter = seconds
	f.mu.Unlock()
}

// FailChannel makes chat.postMessage to a channel ID answer ok:false with code ("" clears).
func (f *Fake) FailChannel(id, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code == "" {
		delete(f.chanErr, id)
		return
	}
	f.chanErr[id] = code
}

// DropPostResponses stores the next n posted messages but cuts the connection before
// answering, as a network failure after Slack accepted the message would.
func (f *Fake) DropPostResponses(n int) {
	f.mu.Lock()
	f.dropPosts = n
	f.mu.Unlock()
}

// RevokeToken makes every call answer token_revoked.
func (f *Fake) RevokeToken() {
	f.mu.Lock()
	f.revoked = true
	f.mu.Unlock()
}

// RotateToken makes token the valid one and clears a revocation: the old token now
// answers invalid_auth, as after an app is reinstalled.
func (f *Fake) RotateToken(token string) {
	f.mu.Lock()
	f.Token, f.revoked = token, false
	f.mu.Unlock()
}

// Messages returns the posted messages in order.
func (f *Fake) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.messages...)
}

// Files returns the completed uploads.
func (f *Fake) Files() []File {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []File
	for _, fl := range f.files {
		if fl.Completed {
			out = append(out, *fl)
		}
	}
	return out
}

// Calls returns the calls received.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// CountCalls counts calls of one method, with the given status (0: any).
func (f *Fake) CountCalls(method string, status int) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

func (f *Fake) nextTS() string {
	f.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), f.seq)
}

func (f *Fake) channel(idOrName string) (Channel, bool) {
	name := strings.TrimPrefix(idOrName, "#")
	for _, c := range f.channels {
		if c.ID == idOrName || c.Name == name {
			return c, true
		}
	}
	return Channel{}, false
}

func (f *Fake) record(method string, status int) {
	f.calls = append(f.calls, Call{Method: method, Status: status, At: time.Now()})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) {
	reply(w, map[string]any{"ok": false, "error": code})
}

// ServeHTTP routes /api/<method> and /upload/<file id>.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/upload/"); ok {
		f.upload(w, r, id)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/response/") {
		f.response(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
		_ = r.ParseForm()
	}
	f.mu.Lock()
	latency := f.latency
	f.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.outage {
		f.record(method, http.StatusServiceUnavailable)
		http.Error(w, "<html>service unavailable</html>", http.StatusServiceUnavailable)
		return
	}
	if n := f.limited[method]; n > 0 {
		f.limited[method] = n - 1
		f.rateLimited(w, method, f.retryAfter)
		return
	}
	if (method == "conversations.history" && f.historyGap > 0 && time.Since(f.lastRead) < f.historyGap) ||
		(method == "chat.postMessage" && f.pace > 0 && time.Since(f.lastPost[r.FormValue("channel")]) < f.pace) {
		f.rateLimited(w, method, 1)
		return
	}
	f.record(method, http.StatusOK)
	token := r.FormValue("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	if f.revoked {
		fail(w, "token_revoked")
		return
	}
	bot, ok := f.bots[token]
	if token == f.Token {
		bot, ok = defaultBot, true
	}
	if !ok {
		fail(w, "invalid_auth")
		return
	}
	switch method {
	case "auth.test":
		w.Header().Set("X-OAuth-Scopes", f.Scopes)
		reply(w, map[string]any{"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "tabhook", "team_id": "T0FAKE", "user_id": bot.UserID, "bot_id": bot.BotID})
	case "chat.postMessage":
		f.postMessage(w, r, bot)
	case "conversations.list":
		f.list(w, r)
	case "conversations.history":
		f.lastRead = time.Now()
		f.history(w, r)
	case "conversations.replies":
		f.replies(w, r)
	case "chat.update":
		f.update(w, r, bot)
	case "chat.getPermalink":
		f.permalink(w, r)
	case "users.lookupByEmail":
		f.lookupByEmail(w, r)
	case "usergroups.users.list":
		members, ok := f.groups[r.FormValue("usergroup")]
		if !ok {
			fail(w, "no_such_subteam")
			return
		}
		reply(w, map[string]any{"ok": true, "users": members})
	case "files.getUploadURLExternal":
		f.getUploadURL(w, r)
	case "files.completeUploadExternal":
		f.completeUpload(w, r)
	default:
		fail(w, "unknown_method")
	}
}

// rateLimited answers 429 and records it.
func (f *Fake) rateLimited(w http.ResponseWriter, method string, seconds int) {
	f.record(method, http.StatusTooManyRequests)
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	w.WriteHeader(http.StatusTooManyRequests)
	reply(w, map[string]any{"ok": false, "error": "ratelimited"})
}

func (f *Fake) postMessage(w http.ResponseWriter, r *http.Request, bot Bot) {
	c, ok := f.channel(r.FormValue("channel"))
	switch {
	case !ok:
		fail(w, "channel_not_found")
		return
	case c.Archived:
		fail(w, "is_archived")
		return
	case f.chanErr[c.ID] != "":
		fail(w, f.chanErr[c.ID])
		return
	case !c.IsMember && c.IsPrivate:
		fail(w, "not_in_channel")
		return
	}
	if r.FormValue("text") == "" && r.FormValue("blocks") == "" {
		fail(w, "no_text")
		return
	}
	f.lastPost[r.FormValue("channel")] = time.Now()
	m := Message{Channel: c.ID, BotID: bot.BotID, User: bot.UserID, TS: f.nextTS(), ThreadTS: r.FormValue("thread_ts"), Text: r.FormValue("text"), At: time.Now()}
	if b := r.FormValue("blocks"); b != "" {
		if !validBlocks(b) {
			fail(w, "invalid_blocks")
			return
		}
		m.Blocks = json.RawMessage(b)
	}
	if md := r.FormValue("metadata"); md != "" {
		m.Metadata = json.RawMessage(md)
	}
	f.messages = append(f.messages, m)
	for _, ch := range f.subs {
		select {
		case ch <- m:
		default:
		}
	}
	if f.dropPosts > 0 {
		f.dropPosts--
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	reply(w, map[string]any{"ok": true, "channel": c.ID, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}})
}

func (f *Fake) list(w http.ResponseWriter, r *http.Request) {
	start, _ := strconv.Atoi(r.FormValue("cursor"))
	types := r.FormValue("types")
	var visible []Channel
	for _, c := range f.channels {
		if c.IsPrivate && !strings.Contains(types, "private_channel") {
			continue
		}
		if c.Archived && r.FormValue("exclude_archived") == "true" {
			continue
		}
		visible = append(visible, c)
	}
	end := min(start+f.pageSize, len(visible))
	start = min(start, end)
	var page []map[string]any
	for _, c := range visible[start:end] {
		page = append(page, map[string]any{"id": c.ID, "name": c.Name, "is_channel": !c.IsPrivate, "is_private": c.IsPrivate, "is_member": c.IsMember, "is_archived": c.Archived})
	}
	next := ""
	if end < len(visible) {
		next = strconv.Itoa(end)
	}
	reply(w, map[string]any{"ok": true, "channels": page, "response_metadata": map[string]any{"next_cursor": next}})
}

func (f *Fake) history(w http.ResponseWriter, r *http.Request) {
	c, ok := f.channel(r.FormValue("channel"))
	if !ok {
		fail(w, "channel_not_found")
		return
	}
	oldest, _ := strconv.ParseFloat(r.FormValue("oldest"), 64)
	withMeta := r.FormValue("include_all_metadata") == "true" || r.FormValue("include_all_metadata") == "1"
	var msgs []map[string]any
	for i := len(f.messages) - 1; i >= 0; i-- { // newest first, as Slack answers
		m := f.messages[i]
		ts, _ := strconv.ParseFloat(m.TS, 64)
		if m.Channel != c.ID || ts < oldest || m.ThreadTS != "" {
			continue
		}
		msg := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "bot_id": m.BotID, "user": m.User}
		if withMeta && m.Metadata != nil {
			msg["metadata"] = m.Metadata
		}
		msgs = append(msgs, msg)
	}
	reply(w, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

func (f *Fake) getUploadURL(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.FormValue("length"))
	if r.FormValue("filename") == "" || err != nil || n <= 0 {
		fail(w, "invalid_arguments")
		return
	}
	f.seq++
	id := fmt.Sprintf("F%07d", f.seq)
	f.files[id] = &File{ID: id, Name: r.FormValue("filename")}
	reply(w, map[string]any{"ok": true, "upload_url": f.srv.URL + "/upload/" + id, "file_id": id})
}

func (f *Fake) upload(w http.ResponseWriter, r *http.Request, id string) {
	var data []byte
	if file, _, err := r.FormFile("file"); err == nil {
		data, _ = io.ReadAll(file)
	} else {
		data, _ = io.ReadAll(r.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("upload", http.StatusOK)
	fl, ok := f.files[id]
	if !ok || f.outage {
		http.Error(w, "no such upload", http.StatusNotFound)
		return
	}
	fl.Bytes = data
	_, _ = w.Write([]byte("OK - " + strconv.Itoa(len(data))))
}

func (f *Fake) completeUpload(w http.ResponseWriter, r *http.Request) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.FormValue("files")), &files); err != nil || len(files) == 0 {
		fail(w, "invalid_arguments")
		return
	}
	chID := r.FormValue("channel_id")
	// completeUploadExternal takes a channel ID; a name is not found.
	var c Channel
	found := false
	for _, ch := range f.channels {
		if ch.ID == chID {
			c, found = ch, true
		}
	}
	if chID != "" && !found {
		fail(w, "channel_not_found")
		return
	}
	var out []map[string]any
	for _, fs := range files {
		fl, ok := f.files[fs.ID]
		if !ok || fl.Bytes == nil {
			fail(w, "file_not_found")
			return
		}
		fl.Title, fl.Channel, fl.ThreadTS, fl.Completed = fs.Title, c.ID, r.FormValue("thread_ts"), true
		out = append(out, map[string]any{"id": fl.ID, "title": fl.Title})
	}
	reply(w, map[string]any{"ok": true, "files": out})
}

// replies answers conversations.replies: the thread's parent, then its replies.
func (f *Fake) replies(w http.ResponseWriter, r *http.Request) {
	c, ok := f.channel(r.FormValue("channel"))
	if !ok {
		fail(w, "channel_not_found")
		return
	}
	parent := r.FormValue("ts")
	oldest, _ := strconv.ParseFloat(r.FormValue("oldest"), 64)
	withMeta := r.FormValue("include_all_metadata") == "true" || r.FormValue("include_all_metadata") == "1"
	var msgs []map[string]any
	found := false
	for _, m := range f.messages {
		if m.Channel != c.ID || (m.TS != parent && m.ThreadTS != parent) {
			continue
		}
		found = found || m.TS == parent
		if ts, _ := strconv.ParseFloat(m.TS, 64); m.TS != parent && ts < oldest {
			continue
		}
		msg := map[string]any{"type": "message", "ts": m.TS, "thread_ts": parent, "text": m.Text, "bot_id": m.BotID, "user": m.User}
		if withMeta && m.Metadata != nil {
			msg["metadata"] = m.Metadata
		}
		msgs = append(msgs, msg)
	}
	if !found {
		fail(w, "thread_not_found")
		return
	}
	reply(w, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

// update answers chat.update: only the bot that posted a message may change it.
func (f *Fake) update(w http.ResponseWriter, r *http.Request, bot Bot) {
	c, ok := f.channel(r.FormValue("channel"))
	if !ok {
		fail(w, "channel_not_found")
		return
	}
	for i := range f.messages {
		m := &f.messages[i]
		if m.Channel != c.ID || m.TS != r.FormValue("ts") {
			continue
		}
		if m.BotID != bot.BotID {
			fail(w, "cant_update_message")
			return
		}
		if b := r.FormValue("blocks"); b != "" {
			if !validBlocks(b) {
				fail(w, "invalid_blocks")
				return
			}
			m.Blocks = json.RawMessage(b)
		}
		m.Text = r.FormValue("text")
		m.Edits++
		reply(w, map[string]any{"ok": true, "channel": c.ID, "ts": m.TS, "text": m.Text})
		return
	}
	fail(w, "message_not_found")
}

// lookupByEmail answers users.lookupByEmail, which needs the users:read.email scope.
func (f *Fake) lookupByEmail(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(","+f.Scopes+",", ",users:read.email,") {
		reply(w, map[string]any{"ok": false, "error": "missing_scope", "needed": "users:read.email", "provided": f.Scopes})
		return
	}
	id, ok := f.users[strings.ToLower(r.FormValue("email"))]
	if !ok {
		fail(w, "users_not_found")
		return
	}
	reply(w, map[string]any{"ok": true, "user": map[string]any{"id": id, "name": strings.Split(r.FormValue("email"), "@")[0], "profile": map[string]any{"email": r.FormValue("email")}}})
}

// Thread returns a thread's replies, oldest first (not the parent).
func (f *Fake) Thread(channel, parent string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, m := range f.messages {
		if m.Channel == channel && m.ThreadTS == parent {
			out = append(out, m)
		}
	}
	return out
}

// validBlocks: a JSON array of at most 50 blocks, as Slack takes.
func validBlocks(b string) bool {
	var blocks []json.RawMessage
	return json.Unmarshal([]byte(b), &blocks) == nil && len(blocks) <= 50
}
