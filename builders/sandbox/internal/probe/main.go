// Command probe runs inside a sandbox in the sandbox package's tests and
// reports, as JSON on stdout, what a build step can see and do there: its
// ids and id map, capabilities, NoNewPrivs, mounts, terminal, network,
// processes and the host paths it can reach. It is built statically by the
// test and is the only program in the test's toolchain root.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/measure-cc/measure/builders/sandbox/internal/probereport"
)

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func status() map[string]string {
	m := map[string]string{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "euid" {
		fmt.Print(os.Geteuid())
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "hang" {
		// A step that leaves a child which ignores SIGTERM, then waits.
		cmd := exec.Command(os.Args[0], "hang-child", os.Args[2])
		cmd.Start()
		fmt.Println("started")
		time.Sleep(time.Hour)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "hang-child" {
		time.Sleep(time.Hour)
		return
	}
	r := probereport.Report{UID: os.Getuid(), GID: os.Getgid(), EUID: os.Geteuid(), Pid: os.Getpid(), Ppid: os.Getppid(), Mounts: map[string]string{}}
	if b, err := os.ReadFile("/proc/self/uid_map"); err == nil {
		r.UIDMap = strings.Join(strings.Fields(string(b)), " ")
	}
	st := status()
	r.CapBnd, r.CapEff, r.NoNewPrivs = st["CapBnd"], st["CapEff"], st["NoNewPrivs"]
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			if len(f) > 5 {
				r.Mounts[f[4]] = f[5]
			}
		}
	}
	r.WriteRoot = errString(os.WriteFile("/usr/x", nil, 0o644))
	r.WriteBase = errString(os.WriteFile("/x", nil, 0o644))
	r.WriteWork = errString(os.WriteFile("/build/x", nil, 0o644))
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	r.TTY = errString(err)
	if f != nil {
		f.Close()
	}
	c := byte('x')
	for fd := 0; fd < 3; fd++ {
		r.TIOCSTI = append(r.TIOCSTI, errString(unix.IoctlSetPointerInt(fd, unix.TIOCSTI, int(c))))
	}
	r.Sid, _ = unix.Getsid(0)
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		r.Interfaces = append(r.Interfaces, i.Name)
		if i.Flags&net.FlagUp != 0 {
			r.Up = append(r.Up, i.Name)
		}
	}
	if len(os.Args) > 2 {
		conn, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
		r.Dial = errString(err)
		if conn != nil {
			conn.Close()
		}
	}
	if out, err := exec.Command("/usr/bin/suid", "euid").Output(); err == nil {
		r.SetuidEUID = string(out)
	} else {
		r.SetuidEUID = "error: " + err.Error()
	}
	if len(os.Args) > 3 {
		_, err := os.Stat(os.Args[3])
		r.Host = errString(err)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			r.Procs++
		}
	}
	devs, _ := os.ReadDir("/dev")
	for _, d := range devs {
		r.Devs = append(r.Devs, d.Name())
	}
	r.Userns = errString(unix.Unshare(unix.CLONE_NEWUSER))
	json.NewEncoder(os.Stdout).Encode(r)
}
