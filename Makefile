# Every target is one line that calls a tested Python command; the logic lives in scripts/ and trainers/.
# `make help` lists them. Each target depends on `setup`, so a fresh clone needs no manual step.
SHELL := /bin/bash
PY := .venv/bin/python
EXP ?= capsule-b
FROM ?= capsule-b
IMAGE ?= ghcr.io/example/textjobs-trainer:0.1.0
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup run test lint validate build apply diff status logs delete new schemas image push benchmark benchmark-summarizer clean

help: ## List the targets with a one-line description
	@python3 -m scripts.make_help Makefile

setup: ## Create .venv (pinned packages) and bin/ (pinned kustomize, kubeconform); quick when nothing changed
	@python3 -m scripts.setup

run: setup ## Train experiment EXP (default capsule-b) on this machine from its rendered TFJob
	@$(PY) -m scripts.localrun $(EXP) $(ARGS)

test: setup ## Run the whole test suite (what CI runs)
	@$(PY) -m scripts.run_tests $(ARGS)

lint: setup ## Lint Python (ruff) and YAML (yamllint)
	@$(PY) -m scripts.lint

validate: setup ## Render every kustomization; kubeconform -strict against pinned schemas; policy checks
	@$(PY) -m scripts.validate $(ARGS)

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

schemas: setup ## Regenerate schemas/ from the pinned CRDs (Go module proxy) and Kubernetes schemas
	@$(PY) -m scripts.gen_schemas

image: ## Build the trainer image (needs a Docker engine)
	@python3 -m scripts.image build $(IMAGE)

push: ## Push the trainer image IMAGE (needs a Docker engine and registry login)
	@python3 -m scripts.image push $(IMAGE)

benchmark: setup ## Throughput, step time, memory, start-up and accuracy per model (prints a table)
	@$(PY) -m scripts.benchmark $(ARGS)

benchmark-summarizer: setup ## Summarizer on Reuters headlines: ROUGE of beam and greedy against lead-N, tokens/s, memory
	@$(PY) -m scripts.benchmark_summarizer $(ARGS)

clean: ## Remove runs/ and caches (keeps .venv and bin/)
	@python3 -m scripts.clean
