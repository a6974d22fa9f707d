package spool

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

// The write-ahead log makes intake durable at the cost of one appended write and one
// fdatasync per group of concurrent deliveries — the least any design that is durable
// before acknowledging can do. Records reach the bbolt index shortly after, off the
// acknowledgement's path; at start-up the log is replayed into the index.
//
// Each record is framed as: length (4 bytes, big-endian), CRC-32C of the data, data
// (the Record as JSON). A torn write at the tail fails its CRC and is cut off on replay.

// WALName is the log's file name inside the state directory.
const WALName = "intake.wal"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type walReq struct {
	data []byte
	done chan error
}

type wal struct {
	f     *os.File
	reqs  chan walReq
	wg    sync.WaitGroup
	sync  func(*os.File) error
	mu    sync.Mutex // guards the counters and truncation against appends
	added uint64     // records written and synced since the last reset
	size  int64
}

func openWAL(path string, syncFn func(*os.File) error) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open intake log: %w", err)
	}
	w := &wal{f: f, reqs: make(chan walReq, 4096), sync: syncFn}
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

// append writes one encoded record and returns once it is on disk.
func (w *wal) append(data []byte) error {
	done := make(chan error, 1)
	w.reqs <- walReq{data: frame(data), done: done}
	return <-done
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
		w.mu.Lock()
		_, err := w.f.Write(buf)
		if err == nil {
			err = w.sync(w.f)
		}
		if err == nil {
			w.added += uint64(len(batch))
			w.size += int64(len(buf))
		}
		w.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("write intake log: %w", err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// resetIfCaughtUp empties the log when every record in it has been indexed and it has
// grown past limit. A crash before the index is synced just replays records the index
// already has, which replay skips.
// indexed counts the records indexed since the last reset; it is zeroed with the log.
func (w *wal) resetIfCaughtUp(indexed *uint64, limit int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.added != *indexed || w.size < limit || w.size == 0 {
		return nil
	}
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("reset intake log: %w", err)
	}
	w.added, w.size, *indexed = 0, 0, 0
	return nil
}

func (w *wal) close() error {
	close(w.reqs)
	w.wg.Wait()
	return w.f.Close()
}

// readWAL returns the intact records of a log and the offset where they end.
func readWAL(f *os.File) ([]Record, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	r := bufio.NewReader(f)
	var recs []Record
	var off int64
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return recs, off, nil // clean end, or a torn header
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		if n > 1<<20 {
			return recs, off, nil
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return recs, off, nil
		}
		if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
			return recs, off, nil
		}
		var rec Record
		if err := json.Unmarshal(data, &rec); err != nil {
			return recs, off, errors.New("intake log: a record with a valid checksum does not decode")
		}
		recs = append(recs, rec)
		off += int64(8 + n)
	}
}
