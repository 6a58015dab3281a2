/* libyaml (linked statically, as libbpf is: the binary runs in images without it). The Swift module
 * YAML is its one importer. No logic here. */
#pragma once
#include <yaml.h>
