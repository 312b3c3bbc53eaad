// Package controllers stands in for sigs.k8s.io/mcs-api/controllers in proxylab's offline build
// of cilium-operator-generic.
//
// The Go module proxy reachable here does not serve that module (HTTP 404 for every version),
// and Cilium's operator only uses one identifier from it: the name of the annotation that links
// a ServiceImport to its derived Service, for the Multi-Cluster Services API integration of
// ClusterMesh and Gateway API. proxylab enables neither. The value is the one Cilium's own
// documentation (Documentation/network/clustermesh/mcsapi.rst) and tests use.
package controllers

// DerivedServiceAnnotation is the ServiceImport annotation naming the derived Service.
const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"
