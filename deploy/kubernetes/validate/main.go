// Command k8s-validate checks ferrotel's Kubernetes manifests without a cluster.
//
//	k8s-validate check ROOT   decode every manifest under ROOT strictly into the official Go
//	                          types, then render every kustomization under ROOT and decode
//	                          what it renders the same way
//	k8s-validate render DIR   print DIR's rendered manifests (what `kubectl kustomize DIR`
//	                          prints)
//
// Strict means what the API server's strict field validation means: an unknown field, a
// duplicate field or a field of the wrong type is an error naming the field. Every YAML file
// under ROOT must be a kustomization, a manifest one of them lists, or a file one of their
// generators reads: a file nothing references would be checked by nothing.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	otelv1alpha1 "github.com/open-telemetry/opentelemetry-operator/apis/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// The largest file read: manifests are small; anything bigger is a mistake.
const maxFile = 4 << 20

func main() {
	if len(os.Args) != 3 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "check":
		err = check(os.Args[2])
	case "render":
		var out []byte
		out, err = render(os.Args[2])
		if err == nil {
			_, err = os.Stdout.Write(out)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: k8s-validate check ROOT | k8s-validate render DIR")
	os.Exit(2)
}

// The kinds the manifests may use, with their official types.
func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme,
		batchv1.AddToScheme,
		corev1.AddToScheme,
		discoveryv1.AddToScheme,
		networkingv1.AddToScheme,
		policyv1.AddToScheme,
		rbacv1.AddToScheme,
		otelv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

type decoder struct {
	serializer *k8sjson.Serializer
	scheme     *runtime.Scheme
}

func newDecoder() (*decoder, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	s := k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, scheme, scheme,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})
	return &decoder{serializer: s, scheme: scheme}, nil
}

// decodeAll decodes every document of a multi-document YAML stream; `where` names the stream
// in errors. It returns how many objects it decoded.
func (d *decoder) decodeAll(where string, data []byte) (int, error) {
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var problems []string
	n := 0
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", where, err)
		}
		if len(bytes.TrimSpace(stripComments(raw))) == 0 {
			continue
		}
		obj, gvk, err := d.serializer.Decode(raw, nil, nil)
		if err != nil {
			name := ""
			if gvk != nil {
				name = " (" + gvk.String() + ")"
			}
			problems = append(problems, fmt.Sprintf("%s: document %d%s: %v", where, doc, name, err))
			continue
		}
		if _, ok := obj.(runtime.Unstructured); ok {
			problems = append(problems, fmt.Sprintf("%s: document %d: %s has no Go type here", where, doc, gvk))
			continue
		}
		n++
	}
	if len(problems) > 0 {
		return n, errors.New(strings.Join(problems, "\n"))
	}
	return n, nil
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFile)
	}
	return data, nil
}

// readKustomization decodes dir's kustomization.yaml strictly into kustomize's own type.
func readKustomization(dir string) (*types.Kustomization, error) {
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	asJSON, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var k types.Kustomization
	strict, err := sigsjson.UnmarshalStrict(asJSON, &k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(strict) > 0 {
		var msgs []string
		for _, e := range strict {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("%s: %s", path, strings.Join(msgs, "; "))
	}
	return &k, nil
}

// generatorFile is the file of a generator's `files:` entry (`key=path` or `path`).
func generatorFile(source string) string {
	if _, path, ok := strings.Cut(source, "="); ok {
		return path
	}
	return source
}

func check(root string) error {
	d, err := newDecoder()
	if err != nil {
		return err
	}
	var yamlFiles, kustomizations []string
	err = filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() {
			return nil
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml":
			yamlFiles = append(yamlFiles, path)
			if entry.Name() == "kustomization.yaml" {
				kustomizations = append(kustomizations, filepath.Dir(path))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(kustomizations) == 0 {
		return fmt.Errorf("%s: no kustomization.yaml below it", root)
	}
	sort.Strings(kustomizations)

	manifests := map[string]bool{}
	data := map[string]bool{}
	for _, dir := range kustomizations {
		k, err := readKustomization(dir)
		if err != nil {
			return err
		}
		data[filepath.Join(dir, "kustomization.yaml")] = true
		for _, r := range k.Resources {
			path := filepath.Join(dir, r)
			if info, err := os.Stat(path); err == nil && !info.IsDir() {
				manifests[path] = true
			}
		}
		for _, p := range k.Patches {
			if p.Path != "" {
				manifests[filepath.Join(dir, p.Path)] = true
			}
		}
		for _, g := range k.ConfigMapGenerator {
			for _, f := range g.FileSources {
				data[filepath.Join(dir, generatorFile(f))] = true
			}
		}
		for _, g := range k.SecretGenerator {
			for _, f := range g.FileSources {
				data[filepath.Join(dir, generatorFile(f))] = true
			}
		}
	}

	var problems []string
	files, objects := 0, 0
	for _, path := range yamlFiles {
		path = filepath.Clean(path)
		switch {
		case manifests[path]:
			raw, err := readFile(path)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			n, err := d.decodeAll(path, raw)
			if err != nil {
				problems = append(problems, err.Error())
			}
			files++
			objects += n
		case data[path]:
		default:
			problems = append(problems, fmt.Sprintf("%s: no kustomization lists it (as a resource, a patch or a generator's file), so nothing checks or deploys it", path))
		}
	}
	rendered := 0
	for _, dir := range kustomizations {
		out, err := render(dir)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: kustomize: %v", dir, err))
			continue
		}
		n, err := d.decodeAll(dir+" (rendered)", out)
		if err != nil {
			problems = append(problems, err.Error())
		}
		rendered += n
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	fmt.Printf("k8s-validate: %d manifest files (%d objects) and %d kustomizations (%d rendered objects) decode strictly\n",
		files, objects, len(kustomizations), rendered)
	return nil
}

// render is `kustomize build DIR` with kustomize's default options (files only from inside
// the kustomization's own tree, as `kubectl apply -k` allows).
func render(dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return resources.AsYaml()
}
