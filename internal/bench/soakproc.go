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
	// CPUSeconds is the server's own CPU time so far; ChildCPUSeconds
	// that of its finished children (git, the sandboxed steps).
	CPUSeconds      float64 `json:"cpuSeconds"`
	ChildCPUSeconds float64 `json:"childCpuSeconds"`
	// Load1 is the machine's one-minute load average: the context of
	// every latency (other work on the machine slows the server down).
	Load1 float64 `json:"load1"`
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times
// (100 on every Linux architecture Kiln runs on).
const clockTicks = 100

func sampleProc(pid int) ProcSample {
	st := readProcStatus(pid)
	s := ProcSample{RSSMiB: st["VmRSS"] / 1024, PeakMiB: st["VmHWM"] / 1024, Threads: int(st["Threads"])}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.FDs = len(fds)
	}
	s.Children, s.Zombies = children(pid)
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := statFields(string(raw)); len(f) > 14 {
			s.CPUSeconds = (atof(f[11]) + atof(f[12])) / clockTicks
			s.ChildCPUSeconds = (atof(f[13]) + atof(f[14])) / clockTicks
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) > 0 {
			s.Load1 = atof(f[0])
		}
	}
	return s
}

func atof(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
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

// statFields are the fields of /proc/PID/stat after the command (the
// second field, in parentheses, which may hold spaces and parentheses):
// state, ppid, … utime (11), stime, cutime, cstime (14).
func statFields(s string) []string {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// parseStat reads the state and parent of /proc/PID/stat.
func parseStat(s string) (state string, ppid int, ok bool) {
	f := statFields(s)
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
