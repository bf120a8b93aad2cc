package topology

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed presets/*.yaml
var presetFiles embed.FS

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	entries, _ := presetFiles.ReadDir("presets")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// PresetText returns the commented rampart.yaml of preset name.
func PresetText(name string) ([]byte, error) {
	data, err := presetFiles.ReadFile("presets/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no preset %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	return data, nil
}

// Preset returns the parsed topology of preset name.
func Preset(name string) (*Topology, error) {
	data, err := PresetText(name)
	if err != nil {
		return nil, err
	}
	return Parse("preset:"+name, data)
}
