// Package diskspace reads how full the file system holding a directory is.
package diskspace

// Usage is a file system's size and free space, in bytes.
type Usage struct {
	Total, Free uint64
}

// UsedPercent is how full the file system is, 0–100.
func (u Usage) UsedPercent() float64 {
	if u.Total == 0 {
		return 0
	}
	return 100 * float64(u.Total-u.Free) / float64(u.Total)
}
