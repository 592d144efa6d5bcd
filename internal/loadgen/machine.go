package loadgen

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuTimes are CPU times read from /proc (Linux); ok is false elsewhere.
type cpuTimes struct {
	ok        bool
	process   time.Duration // user + system time of this process
	busy, all uint64        // jiffies of all CPUs: busy and in all
}

// clockTicks is USER_HZ, the unit of /proc CPU times on Linux.
const clockTicks = 100

func readCPU() cpuTimes {
	var c cpuTimes
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return c
	}
	// The command name (field 2) may contain spaces: count fields after
	// its closing parenthesis; utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(self, ')')
	if i < 0 {
		return c
	}
	fs := strings.Fields(string(self[i+1:]))
	if len(fs) < 13 {
		return c
	}
	ut, err1 := strconv.ParseUint(fs[11], 10, 64)
	st, err2 := strconv.ParseUint(fs[12], 10, 64)
	if err1 != nil || err2 != nil {
		return c
	}
	c.process = time.Duration(ut+st) * time.Second / clockTicks
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	fs = strings.Fields(line)
	if len(fs) < 8 || fs[0] != "cpu" {
		return c
	}
	var total, idle uint64
	for j, s := range fs[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return c
		}
		if j >= 8 { // guest time is already counted in user time
			break
		}
		total += v
		if j == 3 || j == 4 { // idle, iowait
			idle += v
		}
	}
	c.busy, c.all, c.ok = total-idle, total, true
	return c
}

// machineInfo describes this machine; the CPU model comes from
// /proc/cpuinfo (Linux).
func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
