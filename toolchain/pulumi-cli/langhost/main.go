// Command pulumi-language-nodejs is this project's Node.js language host for the
// Pulumi engine.
//
// Why it exists: the engine (pkg/v3) builds from tagged Go modules, but the
// official language host lives in an untagged module that the module proxy on
// our machines refuses to serve. A language host is a small gRPC server: the
// engine asks it to run the program, and it starts node on the
// @pulumi/pulumi "run" entry point of the program's own node_modules, which
// then talks to the engine's resource monitor. This file implements exactly
// that contract (Handshake, GetPluginInfo, GetRequired{Plugins,Packages}, Run)
// against the pulumirpc types of sdk/v3, and nothing else.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is stamped by the build (-X main.version=…).
var version = "3.248.0"

// bailExitCode is what @pulumi/pulumi's run entry point exits with when it has
// already reported the error to the engine.
const bailExitCode = 32

func main() {
	// The engine passes flags first and its own address as the last positional argument.
	var engineAddress string
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			engineAddress = arg
		}
	}

	nodePath, err := exec.LookPath("node")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-nodejs: node was not found on PATH; install Node.js 20 or newer")
		os.Exit(1)
	}

	host := &languageHost{nodePath: nodePath, engineAddress: engineAddress, programs: map[*exec.Cmd]struct{}{}}

	// The engine may die without closing us (a CLI that fails early, or one killed with SIGKILL).
	// Once it is gone, end the program we started and exit, so nothing is left running with its
	// work half done. "Gone" is judged by our parent, the CLI: when it dies we are re-parented.
	// (Not by the engine address: the engine may close that host and keep using us.)
	go watchParent(os.Getppid(), host)

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: stopped serving: %v\n", err)
		os.Exit(1)
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	nodePath      string
	engineAddress string

	mu       sync.Mutex
	programs map[*exec.Cmd]struct{}
}

// watchParent returns only by exiting the process, once the parent we started with is gone.
func watchParent(parent int, host *languageHost) {
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: the Pulumi CLI (pid %d) is gone; ending the program\n", parent)
			host.killPrograms()
			os.Exit(1)
		}
	}
}

// killPrograms ends every program this host started.
func (h *languageHost) killPrograms() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.programs {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	}
}

func (h *languageHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins reports no plugins up front: providers are resolved lazily
// when the program registers a resource of their package, which is what keeps
// an offline engine from trying to download plugins the program never uses.
func (h *languageHost) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages: see GetRequiredPlugins.
func (h *languageHost) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	programDir := req.GetInfo().GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	entryPoint := req.GetInfo().GetEntryPoint()
	if entryPoint == "" {
		entryPoint = "."
	}

	runPath := filepath.Join(programDir, "node_modules", "@pulumi", "pulumi", "cmd", "run")
	if _, err := os.Stat(runPath); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf(
			"the Pulumi SDK is not installed in %s (no node_modules/@pulumi/pulumi); run npm install there", programDir)}, nil
	}

	args := []string{runPath}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("root-directory", req.GetInfo().GetRootDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	args = append(args, entryPoint)
	args = append(args, req.GetArgs()...)

	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("serializing stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing secret configuration keys: %w", err)
	}

	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
	)
	env = append(env, runtimeOptionEnv(req.GetInfo().GetOptions().AsMap())...)

	cmd := exec.CommandContext(ctx, h.nodePath, args...)
	cmd.Dir = req.GetPwd()
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = env
	// Not a process group of its own: the engine ends a language host by killing the host's process
	// group, and the program must go with it (an orphaned program keeps the engine waiting).
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	h.mu.Lock()
	h.programs[cmd] = struct{}{}
	h.mu.Unlock()
	err = cmd.Wait()
	h.mu.Lock()
	delete(h.programs, cmd)
	h.mu.Unlock()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with code %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// runtimeOptionEnv maps Pulumi.yaml `runtime.options` onto the environment the
// @pulumi/pulumi run entry point reads. TypeScript is on unless disabled.
func runtimeOptionEnv(options map[string]any) []string {
	typescript := true
	if v, ok := options["typescript"].(bool); ok {
		typescript = v
	}
	env := []string{"PULUMI_NODEJS_TYPESCRIPT=" + strconv.FormatBool(typescript)}
	if v, ok := options["tsconfig"].(string); ok && v != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v)
	}
	return env
}
