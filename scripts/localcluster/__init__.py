"""A local Kubernetes control plane with the real Training Operator, built from the Go module proxy.

`make cluster-up` starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the
Training Operator (webhook on) and kwok (fake nodes whose pods "run" without containers) on
127.0.0.1. Binaries are built once into a cache directory (pins.py); the running cluster's state
(certificates, etcd data, logs, PIDs, kubeconfig) lives in `.cluster/` of the checkout.
`--real-node` adds a kubelet node whose pods run in containers (real_node.py and the node_* modules).
"""
