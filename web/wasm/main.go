//go:build js && wasm

// Command wasm is the browser verifier's WebAssembly module
// (scripts/build-web.sh builds it into web/measure.wasm). It gives the
// page five functions, each taking and returning plain JavaScript values;
// every answer is JSON text:
//
//	measureVerify(inputs)  -> verifier.Result: the decoded evidence and,
//	                          with reference values, the verdict exactly as
//	                          measure compare --output json prints it
//	measureExplain(inputs) -> verifier.ExplainResult: measure explain
//	                          --output json for the firmware image
//	measureRole(name, bytes) -> the --certs role of a certificate file
//	measureKind(name, bytes) -> what a file is: "evidence", "refs", "key",
//	                          "firmware", "cert" or ""
//	measureRoles()         -> the --certs roles, a JSON array
//
// inputs is an object: evidence {name, data: Uint8Array}; refs {name,
// data} or null; keys [{name, data}]; threshold; certs [{name, data,
// role}]; trustRoots [{name, data}]; firmware {name, data} or null;
// policy {allowDebug, minTCB, vmpl, reportData}; verifyTime;
// noHardwareCheck. It makes no network request: everything it reads is in
// inputs. When it is ready it calls measureReady(version), if the page
// defined it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall/js"
	"time"

	"github.com/measure-cc/measure/web/verifier"
)

func main() {
	g := js.Global()
	g.Set("measureVerify", js.FuncOf(func(_ js.Value, args []js.Value) any {
		return answer(func() any { return verifier.Verify(context.Background(), inputsOf(arg(args, 0))) })
	}))
	g.Set("measureExplain", js.FuncOf(func(_ js.Value, args []js.Value) any {
		return answer(func() any { return verifier.Explain(inputsOf(arg(args, 0))) })
	}))
	g.Set("measureRole", js.FuncOf(func(_ js.Value, args []js.Value) any {
		f := fileOf(js.ValueOf(map[string]any{"name": arg(args, 0), "data": arg(args, 1)}))
		return verifier.GuessRole(f.Name, f.Data)
	}))
	g.Set("measureKind", js.FuncOf(func(_ js.Value, args []js.Value) any {
		f := fileOf(js.ValueOf(map[string]any{"name": arg(args, 0), "data": arg(args, 1)}))
		return verifier.Classify(f.Name, f.Data)
	}))
	g.Set("measureRoles", js.FuncOf(func(js.Value, []js.Value) any {
		b, _ := json.Marshal(verifier.Roles)
		return string(b)
	}))
	if ready := g.Get("measureReady"); ready.Type() == js.TypeFunction {
		ready.Invoke(revision)
	}
	select {} // keep the functions alive
}

// answer runs f and returns its value as JSON text; a panic, which would
// end the module for good, becomes an error answer.
func answer(f func() any) (out any) {
	defer func() {
		if r := recover(); r != nil {
			b, _ := json.Marshal(map[string]any{"error": verifier.Error{Kind: "internal", Message: fmt.Sprintf("internal error: %v", r)}})
			out = string(b)
		}
	}()
	b, err := json.Marshal(f())
	if err != nil {
		b, _ = json.Marshal(map[string]any{"error": verifier.Error{Kind: "internal", Message: err.Error()}})
	}
	return string(b)
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

func inputsOf(v js.Value) verifier.Inputs {
	in := verifier.Inputs{Now: time.Now()}
	if !isObject(v) {
		return in
	}
	in.Evidence = fileOf(v.Get("evidence"))
	if r := v.Get("refs"); isObject(r) {
		f := fileOf(r)
		in.Refs = &f
	}
	if fw := v.Get("firmware"); isObject(fw) {
		f := fileOf(fw)
		in.Firmware = &f
	}
	in.Keys = filesOf(v.Get("keys"))
	in.Certs = filesOf(v.Get("certs"))
	in.TrustRoots = filesOf(v.Get("trustRoots"))
	if t := v.Get("threshold"); t.Type() == js.TypeNumber {
		in.Threshold = t.Int()
	}
	in.VerifyTime = str(v.Get("verifyTime"))
	in.NoHardwareCheck = v.Get("noHardwareCheck").Truthy()
	if p := v.Get("policy"); isObject(p) {
		in.Policy = verifier.PolicyInputs{
			AllowDebug: p.Get("allowDebug").Truthy(),
			MinTCB:     str(p.Get("minTCB")),
			VMPL:       str(p.Get("vmpl")),
			ReportData: str(p.Get("reportData")),
		}
	}
	return in
}

func isObject(v js.Value) bool { return v.Type() == js.TypeObject }

func str(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

func filesOf(v js.Value) []verifier.File {
	if !isObject(v) {
		return nil
	}
	n := v.Length()
	out := make([]verifier.File, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, fileOf(v.Index(i)))
	}
	return out
}

// fileOf copies a {name, data: Uint8Array, role} object; data is capped at
// the largest input the page takes, so that nothing is copied without
// bound.
func fileOf(v js.Value) verifier.File {
	if !isObject(v) {
		return verifier.File{}
	}
	f := verifier.File{Name: str(v.Get("name")), Role: str(v.Get("role"))}
	if d := v.Get("data"); isObject(d) && d.InstanceOf(js.Global().Get("Uint8Array")) {
		n := d.Length()
		if n > verifier.MaxFirmwareSize+1 {
			n = verifier.MaxFirmwareSize + 1
		}
		f.Data = make([]byte, n)
		js.CopyBytesToGo(f.Data, d.Call("subarray", 0, n))
	}
	return f
}

// revision is the source revision scripts/build-web.sh builds, set with
// -ldflags "-X main.revision=..."; the build itself records none
// (-buildvcs=false), so that the same source gives the same bytes.
var revision = "devel"
