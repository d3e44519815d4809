package bench

import (
	"bytes"
	"io"
	"sort"
	"time"
)

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// Latency summarises a sample of durations in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50Millis"`
	P99  float64 `json:"p99Millis"`
	Max  float64 `json:"maxMillis"`
	Mean float64 `json:"meanMillis"`
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return Latency{N: len(d), P50: ms(d[len(d)/2]), P99: ms(d[(len(d)*99)/100]), Max: ms(d[len(d)-1]),
		Mean: ms(sum / time.Duration(len(d)))}
}
