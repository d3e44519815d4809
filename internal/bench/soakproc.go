package bench

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcSample is the server process as /proc shows it.
type ProcSample struct {
	RSSMiB  float64 `json:"rssMiB"`
	PeakMiB float64 `json:"peakRssMiB"`
	// Threads are OS threads: the server has no debug endpoint, so its
	// goroutines are not counted (a goroutine leak shows in RSS).
	Threads  int `json:"threads"`
	FDs      int `json:"openFds"`
	Children int `json:"childProcesses"`
	Zombies  int `json:"zombieChildren"`
}

func sampleProc(pid int) ProcSample {
	st := readProcStatus(pid)
	s := ProcSample{RSSMiB: st["VmRSS"] / 1024, PeakMiB: st["VmHWM"] / 1024, Threads: int(st["Threads"])}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.FDs = len(fds)
	}
	s.Children, s.Zombies = children(pid)
	return s
}

// children counts pid's child processes and the zombies among them.
func children(pid int) (n, zombies int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if c := e.Name()[0]; c < '0' || c > '9' {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		state, ppid, ok := parseStat(string(raw))
		if ok && ppid == pid {
			n++
			if state == "Z" {
				zombies++
			}
		}
	}
	return n, zombies
}

// parseStat reads the state and parent of /proc/PID/stat, whose second
// field (the command, in parentheses) may hold spaces and parentheses.
func parseStat(s string) (state string, ppid int, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// DiskUsage is what files take on disk.
type DiskUsage struct {
	Files int64 `json:"files"`
	Dirs  int64 `json:"dirs"`
	// Apparent is the sum of the files' sizes.
	Apparent int64 `json:"apparentBytes"`
	// Bytes are the blocks allocated to files and directories (du).
	Bytes int64 `json:"bytes"`
}

func (u DiskUsage) minus(o DiskUsage) DiskUsage {
	return DiskUsage{Files: u.Files - o.Files, Dirs: u.Dirs - o.Dirs, Apparent: u.Apparent - o.Apparent, Bytes: u.Bytes - o.Bytes}
}

func (u DiskUsage) plus(o DiskUsage) DiskUsage {
	return DiskUsage{Files: u.Files + o.Files, Dirs: u.Dirs + o.Dirs, Apparent: u.Apparent + o.Apparent, Bytes: u.Bytes + o.Bytes}
}

func (u *DiskUsage) add(info fs.FileInfo) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		u.Bytes += st.Blocks * 512
	}
	switch {
	case info.IsDir():
		u.Dirs++
	case info.Mode().IsRegular():
		u.Files++
		u.Apparent += info.Size()
	}
}
