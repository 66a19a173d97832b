package telemetry

import "go.opentelemetry.io/otel/attribute"

// Attribute keys of protostar's own spans.
const (
	KeyRole       = attribute.Key("protostar.role")
	KeyTenant     = attribute.Key("protostar.tenant")
	KeyJobID      = attribute.Key("protostar.job.id")
	KeyJobType    = attribute.Key("protostar.job.type")
	KeyAttempt    = attribute.Key("protostar.job.attempt")
	KeyDocumentID = attribute.Key("protostar.document.id")
	KeyVersion    = attribute.Key("protostar.document.version")
)

func attrRole(role string) attribute.KeyValue { return KeyRole.String(role) }
