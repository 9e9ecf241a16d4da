#!/usr/bin/env python3
# Import cycles between the modules of a crate: for each pair of sibling modules, an edge A -> B
# when code under A names crate::B or super:: paths into B (comments left out). Prints every
# cycle and the count.  Usage: scripts/lib/import_cycles.py CRATE/src
import os,re,sys,itertools
root=sys.argv[1]
mods={}
for dp,dn,fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f); rel=os.path.relpath(p,root)[:-3]
        parts=rel.split('/')
        if parts[-1] in ('mod','lib','main'): parts=parts[:-1]
        mods['::'.join(parts)]=open(p).read()
def resolve(cur, path):
    segs=path.split('::')
    base=cur.split('::') if cur else []
    if segs[0]=='crate': base=[]; segs=segs[1:]
    elif segs[0]=='super':
        # cur is file module; super = parent
        while segs and segs[0]=='super': base=base[:-1]; segs=segs[1:]
    elif segs[0]=='self': segs=segs[1:]
    else: return None
    full=base+segs
    # longest prefix that is a module
    for i in range(len(full),0,-1):
        m='::'.join(full[:i])
        if m in mods: return m
    return None
edges=set()
for m,src in mods.items():
    # strip test modules
    src=re.split(r'#\[cfg\(test\)\]\s*mod tests',src)[0]
    src="\n".join(l for l in src.split("\n") if not l.strip().startswith("//"))
    for u in re.findall(r'\b(?:crate|super)(?:::\w+)+',src):
        t=resolve(m,u)
        if t and t!=m: edges.add((m,t))
# sibling-level cycles: map each edge to the pair of children of their common ancestor
def top(a,b):
    A=a.split('::') if a else []; B=b.split('::') if b else []
    i=0
    while i<min(len(A),len(B)) and A[i]==B[i]: i+=1
    if i>=len(A) or i>=len(B): return None
    return ('::'.join(A[:i+1]),'::'.join(B[:i+1]))
g={}
for a,b in edges:
    t=top(a,b)
    if t: g.setdefault(t[0],set()).add(t[1])
# find cycles via DFS
seen=set(); cyc=[]
def dfs(n,stack):
    for x in g.get(n,()):
        if x in stack: cyc.append(stack[stack.index(x):]+[x]); continue
        if (n,x) in seen: continue
        seen.add((n,x)); dfs(x,stack+[x])
for n in list(g): dfs(n,[n])
out=set(' -> '.join(c) for c in cyc)
for c in sorted(out): print(c)
print(len(out),"cycles")
