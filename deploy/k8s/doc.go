// Package k8s holds ioc's Kubernetes manifests (ioc.yaml) and the test that decodes them
// strictly into the Kubernetes API types and checks each process's configuration.
package k8s
