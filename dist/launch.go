package dist

import (
	"fmt"
	"strconv"
)

// LauncherKind names what started this process.
type LauncherKind int

// Launchers Detect recognises, in order of precedence.
const (
	// LauncherNone: a plain process; Init returns Single().
	LauncherNone LauncherKind = iota
	// LauncherMPI: started by Open MPI's mpirun/mpiexec (OMPI_COMM_WORLD_*
	// variables) or by a PMIx launcher such as `srun --mpi=pmix`
	// (PMIX_RANK); MPI_Init finds its peers itself.
	LauncherMPI
	// LauncherTorchrun: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, as
	// torchrun and most schedulers' PyTorch templates set them.
	LauncherTorchrun
)

func (k LauncherKind) String() string {
	switch k {
	case LauncherMPI:
		return "mpirun"
	case LauncherTorchrun:
		return "torchrun"
	}
	return "none"
}

// Launcher is what Detect read from the environment. Rank and Size are -1
// when the launcher leaves them to MPI (PMIx launchers).
type Launcher struct {
	Kind       LauncherKind
	Rank       int
	Size       int
	LocalRank  int
	MasterAddr string // torchrun only
	MasterPort int    // torchrun only
	// RendezvousPort is the TCP port on MasterAddr where rank 0 hands out
	// the MPI bootstrap strings: MasterPort, or MasterPort+1 under a
	// torchrun agent that already serves its own store on MasterPort
	// (TORCHELASTIC_USE_AGENT_STORE=True).
	RendezvousPort int
}

// Detect reports which launcher started the process, reading variables
// through lookup (os.LookupEnv in production). Open MPI's variables win over
// torchrun's, because mpirun may be run from a job script that also exports
// RANK. A partial or malformed torchrun set is an error, not a silent
// single-process run.
func Detect(lookup func(string) (string, bool)) (Launcher, error) {
	none := Launcher{Kind: LauncherNone, Rank: 0, Size: 1}
	if _, ok := lookup("OMPI_COMM_WORLD_SIZE"); ok {
		l := Launcher{Kind: LauncherMPI}
		var err error
		if l.Rank, err = envInt(lookup, "OMPI_COMM_WORLD_RANK"); err != nil {
			return none, err
		}
		if l.Size, err = envInt(lookup, "OMPI_COMM_WORLD_SIZE"); err != nil {
			return none, err
		}
		if _, ok := lookup("OMPI_COMM_WORLD_LOCAL_RANK"); ok {
			if l.LocalRank, err = envInt(lookup, "OMPI_COMM_WORLD_LOCAL_RANK"); err != nil {
				return none, err
			}
		}
		return l, nil
	}
	if _, ok := lookup("PMIX_RANK"); ok {
		return Launcher{Kind: LauncherMPI, Rank: -1, Size: -1}, nil
	}
	_, hasRank := lookup("RANK")
	_, hasSize := lookup("WORLD_SIZE")
	if !hasRank && !hasSize {
		return none, nil
	}
	l := Launcher{Kind: LauncherTorchrun}
	var err error
	if l.Rank, err = envInt(lookup, "RANK"); err != nil {
		return none, err
	}
	if l.Size, err = envInt(lookup, "WORLD_SIZE"); err != nil {
		return none, err
	}
	if l.Size < 1 || l.Rank < 0 || l.Rank >= l.Size {
		return none, fmt.Errorf("dist: RANK=%d WORLD_SIZE=%d: want 0 <= RANK < WORLD_SIZE", l.Rank, l.Size)
	}
	if _, ok := lookup("LOCAL_RANK"); ok {
		if l.LocalRank, err = envInt(lookup, "LOCAL_RANK"); err != nil {
			return none, err
		}
	}
	if l.Size == 1 {
		return l, nil
	}
	addr, ok := lookup("MASTER_ADDR")
	if !ok || addr == "" {
		return none, fmt.Errorf("dist: WORLD_SIZE=%d but MASTER_ADDR is not set", l.Size)
	}
	l.MasterAddr = addr
	if l.MasterPort, err = envInt(lookup, "MASTER_PORT"); err != nil {
		return none, err
	}
	if l.MasterPort <= 0 || l.MasterPort > 65535 {
		return none, fmt.Errorf("dist: MASTER_PORT=%d out of range", l.MasterPort)
	}
	l.RendezvousPort = l.MasterPort
	if v, _ := lookup("TORCHELASTIC_USE_AGENT_STORE"); v == "True" || v == "true" || v == "1" {
		if l.MasterPort == 65535 {
			return none, fmt.Errorf("dist: MASTER_PORT=%d leaves no port for the rendezvous next to torchrun's store", l.MasterPort)
		}
		l.RendezvousPort = l.MasterPort + 1
	}
	return l, nil
}

func envInt(lookup func(string) (string, bool), key string) (int, error) {
	s, ok := lookup(key)
	if !ok {
		return 0, fmt.Errorf("dist: %s is not set", key)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("dist: %s=%q: %w", key, s, err)
	}
	return n, nil
}
