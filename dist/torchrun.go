package dist

// The torchrun path: processes started with RANK, WORLD_SIZE, MASTER_ADDR
// and MASTER_PORT but not by mpirun. Each is an MPI singleton; they become
// one communicator through MPI's own dynamic-process calls:
//
//  1. Rank 0 starts Open MPI's name server, `ompi-server`, which Open MPI
//     requires for MPI_Comm_connect/accept between separately started
//     processes, then MPI_Init and MPI_Open_port.
//  2. Rank 0 listens on MASTER_ADDR:RendezvousPort. Each other rank dials
//     it, sends its rank and world size, and receives two strings: the
//     ompi-server URI (which must be in OMPI_MCA_pmix_server_uri before
//     MPI_Init) and the MPI port name. That is the whole TCP protocol;
//     no tensor data ever crosses it.
//  3. Ranks join one at a time: the joiner calls MPI_Comm_connect, every
//     rank already in calls MPI_Comm_accept, all merge the
//     intercommunicator (MPI_Intercomm_merge). After WORLD_SIZE-1 joins
//     MPI_Comm_split with key RANK puts MPI ranks in torchrun's order.
//
// Limits: needs `ompi-server` (package openmpi-bin) on rank 0's machine and
// libmpi on every machine; joins are sequential (about 0.5 s per rank);
// rank 0's machine must accept TCP from the others on RendezvousPort and on
// the ports Open MPI picks; Open MPI's fault handling across the joined
// jobs is weaker than under mpirun, so a dead peer is caught by the
// collective timeout and the launcher (torchrun stops all workers when one
// fails) rather than by MPI itself.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rendezvousHello and rendezvousReply are the rendezvous's two messages,
// one JSON line each.
type rendezvousHello struct {
	Rank int `json:"rank"`
	Size int `json:"size"`
}

type rendezvousReply struct {
	ServerURI string `json:"server_uri"`
	PortName  string `json:"port_name"`
	Error     string `json:"error,omitempty"`
}

// pmixServerURIEnv is the variable through which Open MPI's singleton init
// finds ompi-server; libmpi reads it with getenv during MPI_Init.
const pmixServerURIEnv = "OMPI_MCA_pmix_server_uri"

func newMPITorchrun(ctx context.Context, opts Options, l Launcher) (Comm, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.startupTimeout())
	defer cancel()
	var c *mpiComm
	var err error
	if l.Rank == 0 {
		c, err = torchrunRoot(ctx, opts, l)
	} else {
		c, err = torchrunPeer(ctx, opts, l)
	}
	if err != nil {
		return nil, fmt.Errorf("dist: torchrun-style start (RANK=%d WORLD_SIZE=%d MASTER_ADDR=%s port %d): %w",
			l.Rank, l.Size, l.MasterAddr, l.RendezvousPort, err)
	}
	c.timeout = opts.timeout()
	return c, nil
}

func torchrunRoot(ctx context.Context, opts Options, l Launcher) (*mpiComm, error) {
	// Listen first: a port in use is the likeliest mistake, report it early.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort("", strconv.Itoa(l.RendezvousPort)))
	if err != nil {
		return nil, fmt.Errorf("rendezvous listen: %w", err)
	}
	defer ln.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = ln.(*net.TCPListener).SetDeadline(dl)
	}

	server, err := startOMPIServer(ctx)
	if err != nil {
		return nil, err
	}
	c, err := torchrunRootJoin(ctx, opts, l, ln, server.uri)
	if err != nil {
		server.stop()
		return nil, err
	}
	c.cleanup = server.stop
	return c, nil
}

func torchrunRootJoin(ctx context.Context, opts Options, l Launcher, ln net.Listener, uri string) (*mpiComm, error) {
	if err := os.Setenv(pmixServerURIEnv, uri); err != nil {
		return nil, err
	}
	c, err := newMPIOwner(opts)
	if err != nil {
		return nil, err
	}
	var port string
	intra := uintptr(0)
	err = c.do(ctx, "MPI_Init and MPI_Open_port", func() error {
		if err := c.initThread(); err != nil {
			return err
		}
		buf := make([]byte, mpiMaxPortName)
		if err := c.lib.check("MPI_Open_port", c.lib.openPort(c.lib.infoNull, &buf[0])); err != nil {
			return err
		}
		port = goString(buf)
		intra = c.lib.commSelf
		return nil
	})
	if err != nil {
		return nil, err
	}
	reply, err := json.Marshal(rendezvousReply{ServerURI: uri, PortName: port})
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{0: true}
	for joined := 1; joined < l.Size; joined++ {
		conn, err := ln.Accept()
		if err != nil {
			return nil, fmt.Errorf("waiting for other rank %d of %d to dial in: %w", joined, l.Size-1, timeoutErr(err))
		}
		hello, err := readHello(ctx, conn, l, seen)
		if err != nil {
			conn.Close()
			return nil, err
		}
		seen[hello.Rank] = true
		if _, err := conn.Write(append(reply, '\n')); err != nil {
			conn.Close()
			return nil, fmt.Errorf("rendezvous reply to rank %d: %w", hello.Rank, err)
		}
		err = c.do(ctx, fmt.Sprintf("MPI_Comm_accept of rank %d", hello.Rank), func() error {
			var err error
			intra, err = c.acceptAndMerge(port, intra)
			return err
		})
		conn.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := c.do(ctx, "re-rank", func() error { return c.finishJoin(port, intra, l) }); err != nil {
		return nil, err
	}
	return c, nil
}

// readHello reads and checks one joiner's hello.
func readHello(ctx context.Context, conn net.Conn, l Launcher, seen map[int]bool) (rendezvousHello, error) {
	var h rendezvousHello
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return h, fmt.Errorf("rendezvous hello from %s: %w", conn.RemoteAddr(), timeoutErr(err))
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("rendezvous hello from %s: %w", conn.RemoteAddr(), err)
	}
	var bad string
	switch {
	case h.Size != l.Size:
		bad = fmt.Sprintf("WORLD_SIZE=%d, rank 0 has %d", h.Size, l.Size)
	case h.Rank <= 0 || h.Rank >= l.Size:
		bad = fmt.Sprintf("RANK=%d out of range", h.Rank)
	case seen[h.Rank]:
		bad = fmt.Sprintf("RANK=%d joined twice", h.Rank)
	}
	if bad != "" {
		msg, _ := json.Marshal(rendezvousReply{Error: bad})
		_, _ = conn.Write(append(msg, '\n'))
		return h, fmt.Errorf("rendezvous hello from %s: %s", conn.RemoteAddr(), bad)
	}
	return h, nil
}

func torchrunPeer(ctx context.Context, opts Options, l Launcher) (*mpiComm, error) {
	conn, err := dialRetry(ctx, net.JoinHostPort(l.MasterAddr, strconv.Itoa(l.RendezvousPort)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	hello, _ := json.Marshal(rendezvousHello{Rank: l.Rank, Size: l.Size})
	if _, err := conn.Write(append(hello, '\n')); err != nil {
		return nil, fmt.Errorf("rendezvous hello: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("rendezvous reply (rank 0 busy, dead, or another job on this port?): %w", timeoutErr(err))
	}
	var r rendezvousReply
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("rendezvous reply: %w", err)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("rank 0 refused this rank: %s", r.Error)
	}
	if err := os.Setenv(pmixServerURIEnv, r.ServerURI); err != nil {
		return nil, err
	}
	c, err := newMPIOwner(opts)
	if err != nil {
		return nil, err
	}
	var intra uintptr
	err = c.do(ctx, "MPI_Init and MPI_Comm_connect", func() error {
		if err := c.initThread(); err != nil {
			return err
		}
		name := cString(r.PortName)
		var inter uintptr
		if err := c.lib.check("MPI_Comm_connect", c.lib.commConnect(&name[0], c.lib.infoNull, 0, c.lib.commSelf, &inter)); err != nil {
			return err
		}
		c.joined = append(c.joined, inter)
		// The joiner goes last (high=1); finishJoin re-ranks everyone.
		if err := c.lib.check("MPI_Intercomm_merge", c.lib.intercommMerge(inter, 1, &intra)); err != nil {
			return err
		}
		c.joined = append(c.joined, intra)
		return nil
	})
	if err != nil {
		return nil, err
	}
	conn.Close()
	// Take part in the joins of the ranks still to come. This rank joined
	// when the group had as many members as its place in the join order,
	// which only MPI knows: ask it.
	var n int32
	if err := c.do(ctx, "MPI_Comm_size", func() error {
		return c.lib.check("MPI_Comm_size", c.lib.commSize(intra, &n))
	}); err != nil {
		return nil, err
	}
	for ; int(n) < l.Size; n++ {
		err := c.do(ctx, fmt.Sprintf("MPI_Comm_accept of the rank joining as member %d of %d", n+1, l.Size), func() error {
			var err error
			intra, err = c.acceptAndMerge(r.PortName, intra)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if err := c.do(ctx, "re-rank", func() error { return c.finishJoin("", intra, l) }); err != nil {
		return nil, err
	}
	return c, nil
}

// acceptAndMerge admits one more process into intra; owner thread only.
// The port name matters only at intra's rank 0.
func (c *mpiComm) acceptAndMerge(port string, intra uintptr) (uintptr, error) {
	name := cString(port)
	var inter, merged uintptr
	if err := c.lib.check("MPI_Comm_accept", c.lib.commAccept(&name[0], c.lib.infoNull, 0, intra, &inter)); err != nil {
		return 0, err
	}
	c.joined = append(c.joined, inter)
	if err := c.lib.check("MPI_Intercomm_merge", c.lib.intercommMerge(inter, 0, &merged)); err != nil {
		return 0, err
	}
	c.joined = append(c.joined, merged)
	return merged, nil
}

// finishJoin orders the joined communicator by torchrun's RANK and makes it
// the collectives' communicator; owner thread only. Rank 0 closes the port.
func (c *mpiComm) finishJoin(port string, intra uintptr, l Launcher) error {
	var ordered uintptr
	if err := c.lib.check("MPI_Comm_split", c.lib.commSplit(intra, 0, int32(l.Rank), &ordered)); err != nil {
		return err
	}
	c.joined = append(c.joined, ordered)
	if port != "" {
		name := cString(port)
		if err := c.lib.check("MPI_Close_port", c.lib.closePort(&name[0])); err != nil {
			return err
		}
	}
	if err := c.useComm(ordered); err != nil {
		return err
	}
	if c.rank != l.Rank || c.size != l.Size {
		return fmt.Errorf("joined communicator has rank %d of %d, want RANK=%d WORLD_SIZE=%d", c.rank, c.size, l.Rank, l.Size)
	}
	return nil
}

// ompiServer is a running `ompi-server` child of rank 0.
type ompiServer struct {
	cmd    *exec.Cmd
	exited chan error // cmd.Wait's result
	dir    string     // holds the URI file
	uri    string
}

// startOMPIServer runs `ompi-server` as a child of rank 0 and waits for it
// to write its contact URI. The child is killed if rank 0 dies (Linux).
func startOMPIServer(ctx context.Context) (*ompiServer, error) {
	bin, err := exec.LookPath("ompi-server")
	if err != nil {
		return nil, fmt.Errorf("%w: the torchrun-style start needs ompi-server on rank 0: %w", ErrNoMPI, err)
	}
	dir, err := os.MkdirTemp("", "minimind-dist-")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "ompi-server.uri")
	var stderr strings.Builder
	s := &ompiServer{cmd: exec.Command(bin, "--no-daemonize", "-r", file), exited: make(chan error, 1), dir: dir}
	s.cmd.Stderr = &stderr
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start ompi-server: %w", err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			s.uri = strings.TrimSpace(string(b))
			return s, nil
		}
		select {
		case err := <-s.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("ompi-server exited before writing its URI: %v: %s", err, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("waiting for ompi-server's URI: %w", timeoutErr(ctx.Err()))
		case <-tick.C:
		}
	}
}

// stop kills the server and removes its directory.
func (s *ompiServer) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
	os.RemoveAll(s.dir)
}

// timeoutErr maps deadline errors to ErrTimeout so callers match one
// sentinel whatever layer gave up.
func timeoutErr(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// dialRetry dials addr until it answers or ctx ends: rank 0 may start later
// than the others.
func dialRetry(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial rank 0 at %s: %w (last error: %v)", addr, timeoutErr(ctx.Err()), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
