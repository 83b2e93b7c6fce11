# Every target is one line that calls a tested Python command; the logic lives in scripts/ and trainers/.
# `make help` lists them. Each target depends on `setup`, so a fresh clone needs no manual step.
SHELL := /bin/bash
PY := .venv/bin/python
EXP ?= capsule-b
FROM ?= capsule-b
IMAGE ?= ghcr.io/example/textjobs-trainer:0.1.0
ARGS ?=
TASK ?=
SORT ?=
MODEL ?=
CANARY ?= 100

.DEFAULT_GOAL := help
.PHONY: help setup run test lint validate build apply diff status logs delete new new-serving serve benchmark-serving schemas image push local-image benchmark sample-data clean e2e cluster-build cluster-up cluster-down cluster-status argocd-health scan-history tracking-up tracking-down runs compare tensorboard benchmark-tracking serve-game

help: ## List the targets with a one-line description
	@python3 -m scripts.make_help Makefile

setup: ## Create .venv (pinned packages) and bin/ (pinned kustomize, kubeconform); quick when nothing changed
	@python3 -m scripts.setup

run: setup ## Train experiment EXP (default capsule-b) on this machine from its rendered TFJob
	@$(PY) -m scripts.localrun $(EXP) $(ARGS)

test: setup ## Run the whole test suite (what CI runs)
	@$(PY) -m scripts.run_tests $(ARGS)

e2e: setup ## Only the end-to-end suite: every experiment and Katib trial on a private local cluster (~2 min once built)
	@$(PY) -m scripts.run_tests tests/test_cluster_e2e.py $(ARGS)

lint: setup ## Lint Python (ruff) and YAML (yamllint)
	@$(PY) -m scripts.lint

validate: setup ## Render every kustomization; kubeconform -strict; policy; gitleaks; server-side dry run when a cluster is up
	@$(PY) -m scripts.validate $(ARGS)

scan-history: setup ## Scan every commit of the repository for credentials (gitleaks)
	@$(PY) -m scripts.scan_history $(ARGS)

cluster-build: setup ## Build the local cluster's pinned binaries into ~/.cache/textjobs (once; ~10-25 min cold)
	@$(PY) -m scripts.localcluster build $(ARGS)

cluster-up: setup ## Start a local Kubernetes + Training Operator + kwok on 127.0.0.1 (builds first if needed); REAL_NODE=1 adds a real kubelet node (root)
	@$(PY) -m scripts.localcluster up $(if $(REAL_NODE),--real-node) $(ARGS)

cluster-down: setup ## Stop every process cluster-up started and delete the local cluster's state
	@$(PY) -m scripts.localcluster down

cluster-status: setup ## Show the local cluster's processes, API health and nodes
	@$(PY) -m scripts.localcluster status

argocd-health: setup ## Judge argocd/health/tfjob.lua with the real Argo CD v2.14 CLI on live TFJobs (builds it once)
	@$(PY) -m scripts.argocd_health $(ARGS)

build: setup ## Print the rendered manifests of EXP
	@$(PY) -m scripts.cluster build $(EXP)

apply: setup ## Validate EXP, then server-side apply it to the current kubectl context
	@$(PY) -m scripts.cluster apply $(EXP)

diff: setup ## Show what `make apply` would change in the cluster for EXP
	@$(PY) -m scripts.cluster diff $(EXP)

status: setup ## Show the conditions of EXP's TFJob
	@$(PY) -m scripts.cluster status $(EXP)

logs: setup ## Stream the chief's logs of EXP's TFJob
	@$(PY) -m scripts.cluster logs $(EXP)

delete: setup ## Delete EXP's TFJob and ConfigMap from the cluster
	@$(PY) -m scripts.cluster delete $(EXP)

new: setup ## Scaffold overlays/EXP from overlays/FROM (default capsule-b) with a fresh run name
	@$(PY) -m scripts.new_experiment $(EXP) --from $(FROM)

new-serving: setup ## Serve EXP from Git: write serving/models/EXP, a KServe InferenceService over EXP's exports (CANARY=percent)
	@$(PY) -m scripts.new_serving $(EXP) --canary $(CANARY) $(ARGS)

serve: setup ## Serve EXP's local export (or MODEL=<export dir or gs://>) on 127.0.0.1: TF Serving REST and V2 APIs
	@$(PY) -m scripts.serve $(EXP) --model "$(MODEL)" $(ARGS)

schemas: setup ## Regenerate schemas/ from the pinned CRDs (Go module proxy) and Kubernetes schemas
	@$(PY) -m scripts.gen_schemas

image: ## Build the GPU trainer image IMAGE (Docker where an engine runs, else buildah)
	@python3 -m scripts.image build $(IMAGE) $(ARGS)

push: ## Push the trainer image IMAGE (Docker or buildah; registry login first)
	@python3 -m scripts.image push $(IMAGE) $(ARGS)

local-image: setup ## Build the CPU trainer image for the local real node without Docker (root; cached)
	@$(PY) -m scripts.image local $(ARGS)

benchmark: setup ## Benchmark task TASK (default classify: speed, memory, accuracy per model; summarize: ROUGE, tokens/s)
	@$(PY) -m scripts.task_tools benchmark $(TASK) $(ARGS)

sample-data: setup ## Rewrite the bundled sample data of task TASK (default: every task) from its generator
	@$(PY) -m scripts.task_tools sample-data $(TASK) $(ARGS)

tracking-up: setup ## Start a local MLflow tracking server on 127.0.0.1 and print the UI address (installs its own environment once)
	@$(PY) -m scripts.tracking up $(ARGS)

tracking-down: setup ## Stop the local MLflow tracking server (its data stays in .tracking/)
	@$(PY) -m scripts.tracking down

runs: setup ## Table of tracked runs: parameters and final metrics, sorted by SORT (e.g. SORT=val_accuracy)
	@$(PY) -m scripts.tracking runs --sort "$(SORT)" $(ARGS)

compare: setup ## The tracked runs of experiment EXP side by side, sorted by SORT
	@$(PY) -m scripts.tracking compare $(EXP) --sort "$(SORT)" $(ARGS)

tensorboard: setup ## Serve EXP's TensorBoard logs (runs/EXP, a run directory or a gs:// run) on 127.0.0.1
	@$(PY) -m scripts.tensorboard $(EXP) $(ARGS)

benchmark-tracking: setup ## Tracking overhead per epoch and per run, server up / slow / down (tiny classify runs, ~15 min)
	@nice -n 10 $(PY) -m scripts.tracking.benchmark $(ARGS)

benchmark-serving: setup ## Model server latency p50/p90/p99 and requests/s at concurrency 1, 8, 32 beside in-process calls
	@$(PY) -m scripts.benchmark_serving $(ARGS)

serve-game: setup ## Serve the word game (API, docs, page) on a free 127.0.0.1 port from the hat-explainer and hat-guesser runs' exports
	@$(PY) -m trainers serve-game $(ARGS)

clean: ## Remove runs/ and caches (keeps .venv and bin/)
	@python3 -m scripts.clean
