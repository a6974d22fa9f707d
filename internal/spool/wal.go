package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/tabhook/tabhook/internal/store"
)

// The intake log makes intake durable at the cost of one appended write and one
// fdatasync per group of concurrent deliveries — the least any design that is durable
// before acknowledging can do. Records reach the bbolt index shortly after, off the
// acknowledgement's path; at start-up the log is replayed into the index.
//
// The log is a series of segment files. The one being written is sealed and a new one
// begun when it passes segmentSize; a sealed segment is deleted once every record in it
// is indexed, so the log stays small under sustained load. Each record is framed as:
// length (4 bytes, big-endian), CRC-32C of the data, data (the Record as JSON). A torn
// write at the tail fails its CRC and is dropped on replay.

// defaultSegmentSize is how large a segment grows before the next one begins.
const defaultSegmentSize = 4 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentPath(dir string, n uint64) string {
	return filepath.Join(dir, fmt.Sprintf("intake-%016d.wal", n))
}

// segments lists the segment numbers present in dir, oldest first.
func segments(dir string) ([]uint64, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "intake-*.wal"))
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, p := range paths {
		var n uint64
		if _, err := fmt.Sscanf(filepath.Base(p), "intake-%016d.wal", &n); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

type walReq struct {
	data []byte
	done chan walResult
}

type walResult struct {
	seg uint64 // the segment the record went into
	err error
}

type wal struct {
	dir     string
	reqs    chan walReq
	wg      sync.WaitGroup
	sync    func(*os.File) error
	segSize int64

	// Written by the commit loop; read by the indexer, under mu.
	mu      sync.Mutex
	f       *os.File
	seg     uint64
	size    int64
	added   map[uint64]int // records written per segment
	indexed map[uint64]int // records indexed per segment
}

// openWAL starts a new segment numbered after first.
func openWAL(dir string, first uint64, syncFn func(*os.File) error, segSize int64) (*wal, error) {
	if segSize <= 0 {
		segSize = defaultSegmentSize
	}
	w := &wal{dir: dir, reqs: make(chan walReq, 4096), sync: syncFn, segSize: segSize, seg: first, added: map[uint64]int{}, indexed: map[uint64]int{}}
	f, err := w.create(first)
	if err != nil {
		return nil, fmt.Errorf("open intake log: %w", err)
	}
	w.f = f
	w.wg.Add(1)
	go w.commitLoop()
	return w, nil
}

func frame(data []byte) []byte {
	out := make([]byte, 8+len(data))
	binary.BigEndian.PutUint32(out[0:4], uint32(len(data)))
	binary.BigEndian.PutUint32(out[4:8], crc32.Checksum(data, castagnoli))
	copy(out[8:], data)
	return out
}

// append writes one encoded record and returns once it is on disk, with its segment.
func (w *wal) append(data []byte) (uint64, error) {
	done := make(chan walResult, 1)
	w.reqs <- walReq{data: frame(data), done: done}
	r := <-done
	return r.seg, r.err
}

// commitLoop writes whatever has queued up while the previous sync ran, in one write
// and one fdatasync: group commit.
func (w *wal) commitLoop() {
	defer w.wg.Done()
	var batch []walReq
	var buf []byte
	for first := range w.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < 4096 {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = append(buf, r.data...)
		}
		seg, err := w.write(buf, len(batch))
		if err != nil {
			err = fmt.Errorf("write intake log: %w", err)
		}
		for _, r := range batch {
			r.done <- walResult{seg: seg, err: err}
		}
	}
}

// write appends buf (n records) to the current segment, syncs it, and begins the next
// segment when this one is full.
func (w *wal) write(buf []byte, n int) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seg := w.seg
	if _, err := w.f.Write(buf); err != nil {
		return seg, errors.Join(err, w.cut())
	}
	if err := w.sync(w.f); err != nil {
		return seg, errors.Join(err, w.cut())
	}
	w.added[seg] += n
	w.size += int64(len(buf))
	if w.size >= w.segSize {
		if err := w.rotate(); err != nil {
			return seg, nil // the records are on disk; the next write retries the rotation
		}
	}
	return seg, nil
}

// create opens a new segment and makes its directory entry durable before any record
// is acknowledged into it: without the directory sync, a power loss could take the
// whole file — fdatasync of the file alone does not cover the entry that names it.
func (w *wal) create(n uint64) (*os.File, error) {
	f, err := os.OpenFile(segmentPath(w.dir, n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := w.syncDir(); err != nil {
		_ = f.Close()
		_ = os.Remove(segmentPath(w.dir, n))
		return nil, err
	}
	return f, nil
}

// syncDir makes the directory's entries (segments created or removed) durable.
func (w *wal) syncDir() error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there; NTFS journals entries
	}
	d, err := os.Open(w.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := w.sync(d); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}

// cut takes a failed write back off the segment: none of its records was
// acknowledged, and a torn frame left in the middle would stop the replay there,
// dropping the acknowledged records written after it.
func (w *wal) cut() error {
	if err := w.f.Truncate(w.size); err != nil {
		return fmt.Errorf("take a failed write back off the intake log: %w", err)
	}
	return nil
}

func (w *wal) rotate() error {
	f, err := w.create(w.seg + 1)
	if err != nil {
		return err
	}
	sealed := w.seg
	_ = w.f.Close()
	w.f, w.seg, w.size = f, w.seg+1, 0
	w.dropIfIndexed(sealed)
	return nil
}

// markIndexed records that these records (by segment) are in the index, and deletes
// sealed segments all of whose records are.
func (w *wal) markIndexed(segs []uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range segs {
		w.indexed[s]++
	}
	var err error
	for s := range w.indexed {
		if s != w.seg {
			err = errors.Join(err, w.dropIfIndexed(s))
		}
	}
	return err
}

func (w *wal) dropIfIndexed(seg uint64) error {
	if w.indexed[seg] < w.added[seg] {
		return nil
	}
	delete(w.indexed, seg)
	delete(w.added, seg)
	if err := os.Remove(segmentPath(w.dir, seg)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove indexed intake segment: %w", err)
	}
	// Not synced: a removed segment that reappears after a power loss is replayed into
	// an index that already has its records — harmless — and a sync here would compete
	// with the intake log's on the acknowledgement's path.
	return nil
}

// close stops writing; when every record is indexed the log is removed entirely.
func (w *wal) close() error {
	close(w.reqs)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.f.Close()
	if w.indexed[w.seg] >= w.added[w.seg] {
		err = errors.Join(err, w.dropIfIndexed(w.seg))
	}
	return err
}

// replayAll reads every segment in dir, oldest first, returning the intact records and
// the highest segment number seen (0 when none).
func replayAll(dir string) ([]store.Record, uint64, []string, error) {
	segs, err := segments(dir)
	if err != nil {
		return nil, 0, nil, err
	}
	var recs []store.Record
	var last uint64
	var damage []string
	for _, n := range segs {
		data, err := os.ReadFile(segmentPath(dir, n))
		if err != nil {
			return nil, 0, nil, err
		}
		r, bad := readWAL(data)
		if bad > 0 {
			// Kept for inspection: the replay deletes the segment itself.
			aside := segmentPath(dir, n) + ".damaged"
			_ = os.WriteFile(aside, data, 0o600)
			damage = append(damage, fmt.Sprintf("intake log segment %d: %d damaged bytes skipped, %d records recovered (copy kept as %s)", n, bad, len(r), filepath.Base(aside)))
		}
		recs, last = append(recs, r...), n
	}
	return recs, last, damage, nil
}

// removeSegments deletes the replayed segments.
func removeSegments(dir string, upTo uint64) error {
	segs, err := segments(dir)
	if err != nil {
		return err
	}
	for _, n := range segs {
		if n <= upTo {
			if err := os.Remove(segmentPath(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// readWAL returns the intact records of one segment and how many bytes it had to
// skip. A frame whose checksum fails or whose data does not decode is skipped, and
// reading resumes at the next offset where an intact frame begins: one damaged record
// never takes the acknowledged ones after it. A torn tail (the write a crash cut) is
// the usual case, and is not counted as damage.
func readWAL(data []byte) (recs []store.Record, skipped int) {
	off, badFrom := 0, -1
	for off+8 <= len(data) {
		if rec, size, ok := frameAt(data, off); ok {
			if badFrom >= 0 {
				skipped += off - badFrom
				badFrom = -1
			}
			recs = append(recs, rec)
			off += size
			continue
		}
		if badFrom < 0 {
			badFrom = off
		}
		off++
	}
	return recs, skipped
}

// frameAt decodes the frame at off: length, CRC-32C, a record's JSON.
func frameAt(data []byte, off int) (store.Record, int, bool) {
	n := int(binary.BigEndian.Uint32(data[off : off+4]))
	if n == 0 || n > 1<<20 || off+8+n > len(data) {
		return store.Record{}, 0, false
	}
	body := data[off+8 : off+8+n]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[off+4:off+8]) {
		return store.Record{}, 0, false
	}
	var d record
	if err := json.Unmarshal(body, &d); err != nil || d.ID == 0 || d.Key == "" {
		return store.Record{}, 0, false
	}
	return store.Record(d), 8 + n, true
}
