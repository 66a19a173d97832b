// Package deploy holds how protostar is shipped, and the tests that keep it
// honest: compose.yaml (the whole stack on one machine), helm/protostar (a
// chart for Kubernetes) and the OCI image that scripts/image.sh builds
// (make image). The tests parse the compose file and the rendered chart and
// check them against the configuration struct, and inspect the built image
// and run its binary from the image's own files.
//
// The compose test needs nothing. The chart test needs Helm
// (PROTOSTAR_HELM, from scripts/helm.sh) and the image test a built image
// (PROTOSTAR_IMAGE) and root; without them they skip, unless
// PROTOSTAR_REQUIRE_DEPLOY=1 (make test-deploy), which makes them fail.
package deploy
