# etcdform. `make demo` and `make test` install what they need themselves
# (Debian packages as root, Go modules, and a pinned etcd built from source).
GO        ?= go
PKGS      := ./...
BIN       := bin/etcdform
DEMO_DIR  := .lab
export ETCDFORM_E2E := required

.PHONY: all build test test-short bench lint deps etcd demo fuzz clean test-pipeline as-root

# The lab makes network namespaces and deps installs Debian packages, so these
# goals need root. Run as root they go ahead (a fresh Debian machine has no
# sudo); run as another user, make runs itself again through sudo, with this
# PATH (for go) and these make flags. (Plain `make`, not $(MAKE), so that
# `make -n` shows the sudo line instead of running it.)
ROOT_GOALS := all test demo deps bench test-pipeline
GOALS      := $(or $(MAKECMDGOALS),all)
USER_ID    ?= $(shell id -u)

ifneq ($(USER_ID),0)
ifneq ($(filter $(ROOT_GOALS),$(GOALS)),)
$(GOALS): as-root
	@:
as-root:
	@command -v sudo >/dev/null || { echo "make $(GOALS) needs root (the lab makes network namespaces): run it as root, or install sudo" >&2; exit 1; }
	sudo env "PATH=$$PATH" "MAKEFLAGS=$$MAKEFLAGS" make -C $(CURDIR) USER_ID=0 $(GOALS)
ROOT_REEXEC := yes
endif
endif

ifndef ROOT_REEXEC
all: lint test build

build:
	$(GO) build -o $(BIN) ./cmd/etcdform

# Debian packages (as root), Go modules, and the etcd binaries.
deps:
	./internal/lab/install-deps.sh
	$(GO) mod download
	cd internal/etcdbuild && $(GO) mod download
	$(GO) run ./internal/etcdbin/cmd/etcdbuild
	# the releases the upgrade e2e tests start from and go to (TestUpgradeE2E, TestUpgradeNextMinorE2E):
	# measured 3m41s (3.5.35) and 4m47s (3.7.3) wall time on 2 cores shared with other builds and labs
	# (46 s and 39 s of CPU); about 1 min and 20 s on 2 idle cores
	$(GO) run ./internal/etcdbin/cmd/etcdbuild -version 3.5.35
	$(GO) run ./internal/etcdbin/cmd/etcdbuild -version 3.7.3

test: deps
	$(GO) test -count=1 -timeout 40m $(PKGS)
	$(MAKE) fuzz

# The unit tests only: -short skips every test that starts a lab, etcd, sshd
# or the built binary (labtest.SkipShort and ExitIfShort, etcdtest, sshtest).
# Needs neither root nor deps.
test-short:
	$(GO) test -short -count=1 $(PKGS)

# The GitLab pipeline template (ci/etcdform.gitlab-ci.yml) run for real by
# gitlab-ci-local (shell executor) against a lab and a fake GitLab API:
# internal/e2e/pipeline. Needs Node.js >= 18 with npm (installed from Debian
# when missing, as root), rsync and git.
GITLAB_CI_LOCAL_VERSION := 4.62.0
GITLAB_CI_LOCAL_DIR     := $(HOME)/.cache/etcdform/gitlab-ci-local-$(GITLAB_CI_LOCAL_VERSION)
GITLAB_CI_LOCAL         := $(GITLAB_CI_LOCAL_DIR)/node_modules/.bin/gitlab-ci-local

# OPA evaluates the Rego policies of the policy jobs (etcdform policy;
# examples/policies). It is a separate tool, built from the Go module proxy
# (about 60 MB, a few minutes on 2 cores the first time), not a library of
# etcdform.
OPA_VERSION := v1.22.3
OPA         := $(HOME)/.cache/etcdform/opa/$(OPA_VERSION)/opa

test-pipeline: deps $(GITLAB_CI_LOCAL) $(OPA)
	ETCDFORM_OPA=$(OPA) ETCDFORM_GITLAB_CI_LOCAL=$(GITLAB_CI_LOCAL) $(GO) test -count=1 -timeout 15m ./internal/e2e/pipeline

$(OPA):
	GOBIN=$(dir $(OPA)) $(GO) install github.com/open-policy-agent/opa@$(OPA_VERSION)

$(GITLAB_CI_LOCAL):
	./internal/e2e/pipeline/install-gitlab-ci-local.sh $(GITLAB_CI_LOCAL_VERSION) $(GITLAB_CI_LOCAL_DIR)

# Short, bounded fuzzing of the parsers (no panics, no hangs).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 15s ./schema
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime 15s ./plan/planfile

# Benchmarks print their figures with units and a baseline from the same run.
bench: deps build
	$(GO) test -run '^$$' -bench . -count 1 ./schema ./plan/...
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 120m ./internal/bench

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

demo: deps build
	./examples/demo.sh $(BIN) $(DEMO_DIR)

clean:
	rm -rf bin
endif
