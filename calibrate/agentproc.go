package calibrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// agentProc is the parent's handle on a running agent child process.
type agentProc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	dec     *json.Decoder
	started time.Time
	stderr  *tailBuffer
}

// AgentCommand builds the command that runs the agent: the current
// executable with AgentEnv set. Tests and the CLI both work this way because
// their main/TestMain calls MaybeRunAgent first.
func AgentCommand(ctx context.Context) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the leasesim executable to run the client agent: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), AgentEnv+"=1")
	return cmd, nil
}

// startAgent starts the agent with cfg and waits for it to report that every
// lease is granted and KeepAlive has begun.
// onStart, if not nil, learns the process id as soon as the process exists.
func startAgent(ctx context.Context, cfg AgentConfig, onStart func(pid int)) (*agentProc, error) {
	cmd, err := AgentCommand(ctx)
	if err != nil {
		return nil, err
	}
	// The agent must not outlive us, even if we are killed with SIGKILL (on
	// Linux; elsewhere it still exits when its stdin closes).
	dieWithParent(cmd)
	// Cancelling ctx (e.g. SIGINT) kills the agent; its stdout then closes.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	p := &agentProc{cmd: cmd, stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the client agent: %w", err)
	}
	if onStart != nil {
		onStart(cmd.Process.Pid)
	}
	p.dec = json.NewDecoder(out)
	line, _ := json.Marshal(cfg)
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		p.kill()
		return nil, fmt.Errorf("client agent: sending its config: %w", err)
	}
	var m agentMsg
	if err := p.dec.Decode(&m); err != nil {
		p.kill()
		return nil, p.failure("waiting for the clients to start", err)
	}
	if m.Error != "" || m.Started == 0 {
		p.kill()
		return nil, p.failure("starting the clients", errors.New(m.Error))
	}
	p.started = time.Unix(0, m.Started)
	return p, nil
}

// Pid is the agent's process id, for its /proc entry.
func (p *agentProc) Pid() int { return p.cmd.Process.Pid }

// stop asks the agent to stop and returns what its clients recorded.
func (p *agentProc) stop() (*AgentResult, error) {
	m, err := p.stopMsg()
	if err != nil {
		return nil, err
	}
	if m.Result == nil {
		return nil, p.failure("reading the clients' results", errors.New(m.Error))
	}
	return m.Result, nil
}

// stopStorm is stop for an agent in storm mode.
func (p *agentProc) stopStorm() (*StormResult, error) {
	m, err := p.stopMsg()
	if err != nil {
		return nil, err
	}
	if m.Storm == nil {
		return nil, p.failure("reading the storm load's results", errors.New(m.Error))
	}
	return m.Storm, nil
}

// stopMsg asks the agent to stop and returns its last message.
func (p *agentProc) stopMsg() (*agentMsg, error) {
	if _, err := io.WriteString(p.stdin, "stop\n"); err != nil {
		p.kill()
		return nil, p.failure("stopping the clients", err)
	}
	var m agentMsg
	if err := p.dec.Decode(&m); err != nil {
		p.kill()
		return nil, p.failure("reading the clients' results", err)
	}
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		return nil, p.failure("client agent exit", err)
	}
	return &m, nil
}

// kill ends the agent at once and reaps it.
func (p *agentProc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	p.stdin.Close()
	p.cmd.Wait()
}

func (p *agentProc) failure(what string, err error) error {
	if s := p.stderr.String(); s != "" {
		return fmt.Errorf("client agent: %s: %v; its stderr ends:\n%s", what, err, s)
	}
	return fmt.Errorf("client agent: %s: %v", what, err)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
