"""REST API serializers for the model registry."""

from __future__ import annotations

from rest_framework import serializers

from shopops.registry.models import ModelVersion


class ModelVersionOutputSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "kind",
            "version",
            "status",
            "params",
            "metrics",
            "data_window_start",
            "data_window_end",
            "code_version",
            "library_versions",
            "artifact_sha256",
            "progress",
            "progress_message",
            "error",
            "gate_passed",
            "gate_reason",
            "created_at",
            "started_at",
            "finished_at",
            "promoted_at",
            "heartbeat_at",
            "duration_seconds",
        ]
        read_only_fields = fields


class RollbackInputSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=64, help_text="The model kind to roll back.")


class RegistryErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
