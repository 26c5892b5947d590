// Small helpers over yaml-cpp nodes shared by the workflow parser's files.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace corral::workflow {

// 1-based line of a node, 0 when yaml-cpp has no position for it.
int yaml_line(const YAML::Node& node);

// A node as JSON, typing plain scalars as YAML 1.2's core schema does: true/false, null/~,
// integers and floats; quoted and block scalars stay strings. nullopt for a value JSON cannot
// hold (.inf, .nan).
std::optional<nlohmann::json> yaml_to_json(const YAML::Node& node);

}  // namespace corral::workflow
