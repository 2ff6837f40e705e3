import basepkg

print("basepkg", basepkg.VALUE)
